using System;

namespace Hybrid.Weaving;

/// <summary>Just enough of the CAPI key-blob formats (.snk files, assembly public keys) to compare keys.</summary>
internal static class StrongNameKey
{
    private const uint Rsa1 = 0x31415352; // public key magic
    private const uint Rsa2 = 0x32415352; // private key magic

    /// <summary>Reads modulus and exponent from an .snk key pair; returns an error message when it is not one.</summary>
    public static string? ReadKeyPair(byte[] blob, out byte[] modulus, out uint exponent)
    {
        modulus = Array.Empty<byte>();
        exponent = 0;
        if (blob.Length >= 12 + 8 && blob[0] != 0x07 && BitConverter.ToUInt32(blob, 0) != 0 && blob[12] == 0x06)
            return "the key file contains only a public key (as used for delay signing); weaving needs the full key pair (sn -k / an .snk with the private key)";
        if (blob.Length < 20 || blob[0] != 0x07 || BitConverter.ToUInt32(blob, 8) != Rsa2)
            return "the key file is not an RSA key pair in .snk (PRIVATEKEYBLOB) format";
        var bits = BitConverter.ToUInt32(blob, 12);
        exponent = BitConverter.ToUInt32(blob, 16);
        var length = (int)(bits / 8);
        if (length == 0 || blob.Length < 20 + length)
            return "the key file is truncated";
        modulus = new byte[length];
        Buffer.BlockCopy(blob, 20, modulus, 0, length);
        return null;
    }

    /// <summary>Reads modulus and exponent from an assembly's public key (the blob stored in metadata).</summary>
    public static bool ReadPublicKey(byte[] publicKey, out byte[] modulus, out uint exponent)
    {
        modulus = Array.Empty<byte>();
        exponent = 0;
        // SigAlgId, HashAlgId, cbPublicKey, then a PUBLICKEYBLOB: bType, bVersion, reserved, aiKeyAlg, RSAPUBKEY.
        if (publicKey.Length < 12 + 20 || publicKey[12] != 0x06 || BitConverter.ToUInt32(publicKey, 20) != Rsa1)
            return false;
        var bits = BitConverter.ToUInt32(publicKey, 24);
        exponent = BitConverter.ToUInt32(publicKey, 28);
        var length = (int)(bits / 8);
        if (publicKey.Length < 32 + length)
            return false;
        modulus = new byte[length];
        Buffer.BlockCopy(publicKey, 32, modulus, 0, length);
        return true;
    }

    public static bool SameKey(byte[] assemblyPublicKey, byte[] keyPairModulus, uint keyPairExponent)
    {
        if (!ReadPublicKey(assemblyPublicKey, out var modulus, out var exponent))
            return false;
        if (exponent != keyPairExponent || modulus.Length != keyPairModulus.Length)
            return false;
        for (int i = 0; i < modulus.Length; i++)
            if (modulus[i] != keyPairModulus[i])
                return false;
        return true;
    }
}
