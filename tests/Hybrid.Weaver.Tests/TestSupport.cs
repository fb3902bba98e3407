using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Linq.Expressions;
using System.Reflection;
using System.Reflection.Emit;
using System.Runtime.CompilerServices;
using System.Runtime.Loader;
using System.Security.Cryptography;
using Hybrid.Weaving;
using NUnit.Framework;

namespace Hybrid.Weaving.Tests;

/// <summary>Scratch directory per test, deleted afterwards.</summary>
internal sealed class TempDir : IDisposable
{
    public TempDir()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "hybrid-weaver-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    /// <summary>A folder holding Iced, Mono.Cecil and the workloads that exercise them (real libraries to weave whole).</summary>
    public static TempDir WithRealLibraries()
    {
        var dir = new TempDir();
        dir.Copy(TestPaths.Iced);
        dir.Copy(TestPaths.Cecil);
        dir.Copy(TestPaths.Workloads);
        return dir;
    }

    /// <summary>Copies an assembly and its PDB (if any) here; returns the new assembly path.</summary>
    public string Copy(string assembly, string? newName = null)
    {
        var target = File(newName ?? System.IO.Path.GetFileName(assembly));
        System.IO.File.Copy(assembly, target, true);
        var pdb = System.IO.Path.ChangeExtension(assembly, ".pdb");
        if (System.IO.File.Exists(pdb))
            System.IO.File.Copy(pdb, System.IO.Path.ChangeExtension(target, ".pdb"), true);
        return target;
    }

    public void Dispose()
    {
        try
        {
            foreach (var f in Directory.EnumerateFiles(Path, "*", SearchOption.AllDirectories))
                System.IO.File.SetAttributes(f, FileAttributes.Normal);
            Directory.Delete(Path, true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}

/// <summary>Loads assemblies from one directory, isolated from the test's own copies, and can be unloaded.</summary>
internal sealed class IsolatedContext : AssemblyLoadContext, IDisposable
{
    private readonly string directory;

    public IsolatedContext(string directory)
        : base("hybrid-weaver-test", isCollectible: true)
    {
        this.directory = directory;
    }

    protected override Assembly? Load(AssemblyName name)
    {
        var path = System.IO.Path.Combine(directory, name.Name + ".dll");
        return File.Exists(path) ? LoadFromAssemblyPath(path) : null;
    }

    public Assembly LoadFile(string path) => LoadFromAssemblyPath(path);

    public void Dispose() => Unload();
}

/// <summary>Runs one workload of Hybrid.Weaver.Workloads from <paramref name="dir"/> in its own load context.</summary>
internal static class Workloads
{
    internal static string Run(TempDir dir, string workload, byte[] input, Action<IsolatedContext>? setup = null)
    {
        using var context = new IsolatedContext(dir.Path);
        setup?.Invoke(context);
        var asm = context.LoadFile(dir.File("Hybrid.Weaver.Workloads.dll"));
        var method = asm.GetType("Hybrid.Weaver.Workloads.Workload")!.GetMethod(workload)!;
        try
        {
            return (string)method.Invoke(null, new object[] { input })!;
        }
        catch (TargetInvocationException e) when (e.InnerException != null)
        {
            throw new AssertionException(workload + " failed in " + dir.Path + ": " + e.InnerException);
        }
    }
}

internal static class TestPaths
{
    public static string Bin => AppContext.BaseDirectory;

    public static string Fixtures => Path.Combine(Bin, "Hybrid.Weaver.Fixtures.dll");

    public static string Workloads => Path.Combine(Bin, "Hybrid.Weaver.Workloads.dll");

    public static string Iced => Path.Combine(Bin, "Iced.dll");

    public static string Cecil => Path.Combine(Bin, "Mono.Cecil.dll");

    public static string RepoRoot([CallerFilePath] string here = "") => Path.GetFullPath(Path.Combine(Path.GetDirectoryName(here)!, "..", ".."));

    public static string FixtureSource => Path.Combine(RepoRoot(), "tests", "Hybrid.Weaver.Fixtures", "Fixtures.cs");

    public static string FixtureKey => Path.Combine(RepoRoot(), "tests", "Hybrid.Weaver.Fixtures", "fixture.snk");

    public static int LineOf(string marker)
    {
        var lines = File.ReadAllLines(FixtureSource);
        for (int i = 0; i < lines.Length; i++)
            if (lines[i].Contains(marker, StringComparison.Ordinal))
                return i + 1;
        throw new InvalidOperationException("marker not found: " + marker);
    }
}

internal static class Weave
{
    public static WeaveResult Run(string input, string? output = null, byte[]? key = null, params string[] selectors)
    {
        var result = Hybrid.Weaving.Weaver.Weave(new WeaverOptions
        {
            InputPath = input,
            OutputPath = output,
            Selectors = selectors,
            StrongNameKeyBlob = key,
        });
        return result;
    }

    public static WeaveResult Ok(string input, params string[] selectors)
    {
        var result = Run(input, null, null, selectors);
        Assert.That(result.Success, Is.True, () => string.Join(Environment.NewLine, result.Diagnostics));
        return result;
    }
}

/// <summary>Sets guard slots exactly as the engine will: through the woven-assembly contract, by reflection.</summary>
internal static class Contract
{
    private const BindingFlags All = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static | BindingFlags.Instance | BindingFlags.DeclaredOnly;

    public static CustomAttributeData GuardAttribute(MethodBase m)
        => m.GetCustomAttributesData().Single(a => a.AttributeType.FullName == "Hybrid.Woven.HybridGuardAttribute");

    private static Type[] InstantiationOf(MethodBase m)
    {
        var typeArgs = m.DeclaringType!.IsGenericType ? m.DeclaringType.GetGenericArguments() : Type.EmptyTypes;
        var methodArgs = m.IsGenericMethod ? m.GetGenericArguments() : Type.EmptyTypes;
        return typeArgs.Concat(methodArgs).ToArray();
    }

    public static FieldInfo Slot(MethodBase m)
    {
        var guard = (Type)GuardAttribute(m).ConstructorArguments[0].Value!;
        var args = InstantiationOf(m);
        if (args.Length > 0)
            guard = guard.MakeGenericType(args);
        return guard.GetField("Target", BindingFlags.Public | BindingFlags.Static)!;
    }

    public static Type HandlerType(MethodBase m) => Slot(m).FieldType;

    public static void Clear(MethodBase m) => Slot(m).SetValue(null, null);

    public static void Set(MethodBase m, Delegate? handler) => Slot(m).SetValue(null, handler);

    /// <summary>Redirects <paramref name="m"/> to <paramref name="impl"/>, which receives (instance?, args...) boxed.</summary>
    public static void Redirect(MethodBase m, Func<object?[], object?> impl) => Set(m, Handler(HandlerType(m), impl));

    public static Delegate Handler(Type handlerType, Func<object?[], object?> impl)
    {
        var invoke = handlerType.GetMethod("Invoke")!;
        var parameters = invoke.GetParameters().Select(p => Expression.Parameter(p.ParameterType, p.Name)).ToArray();
        var args = Expression.NewArrayInit(typeof(object), parameters.Select(p => Expression.Convert(p, typeof(object))));
        Expression body = Expression.Invoke(Expression.Constant(impl), args);
        if (invoke.ReturnType != typeof(void))
            body = Expression.Convert(body, invoke.ReturnType);
        return Expression.Lambda(handlerType, body, parameters).Compile();
    }

    /// <summary>A handler returning a constant, built with IL so it works for ref structs, pointers and byrefs.</summary>
    public static Delegate ConstantHandler(Type handlerType, int value)
    {
        var invoke = handlerType.GetMethod("Invoke")!;
        var dm = new DynamicMethod("constant", invoke.ReturnType, invoke.GetParameters().Select(p => p.ParameterType).ToArray(), typeof(Contract).Module, skipVisibility: true);
        var il = dm.GetILGenerator();
        il.Emit(OpCodes.Ldc_I4, value);
        il.Emit(OpCodes.Ret);
        return dm.CreateDelegate(handlerType);
    }

    public static MethodInfo Original(MethodBase m)
    {
        var name = (string)GuardAttribute(m).ConstructorArguments[1].Value!;
        var original = m.DeclaringType!.GetMethods(All).Single(x => x.Name == name);
        if (m.IsGenericMethod)
            original = original.MakeGenericMethod(m.GetGenericArguments());
        return original;
    }
}

/// <summary>Creates .snk key pairs and verifies strong-name signatures (no 'sn' tool on Linux).</summary>
internal static class StrongName
{
    public static byte[] NewKeyPair()
    {
        using var rsa = RSA.Create(1024);
        var p = rsa.ExportParameters(true);
        var ms = new MemoryStream();
        var w = new BinaryWriter(ms);
        w.Write((byte)7);
        w.Write((byte)2);
        w.Write((ushort)0);
        w.Write(0x2400u);
        w.Write(0x32415352u);
        w.Write((uint)(p.Modulus!.Length * 8));
        var e = new byte[4];
        Array.Copy(p.Exponent!.Reverse().ToArray(), e, p.Exponent!.Length);
        w.Write(BitConverter.ToUInt32(e));
        int half = p.Modulus.Length / 2;
        foreach (var (part, len) in new[] { (p.Modulus, p.Modulus.Length), (p.P!, half), (p.Q!, half), (p.DP!, half), (p.DQ!, half), (p.InverseQ!, half), (p.D!, p.Modulus.Length) })
        {
            var le = new byte[len];
            for (int i = 0; i < part.Length; i++)
                le[i] = part[part.Length - 1 - i];
            w.Write(le);
        }
        return ms.ToArray();
    }

    /// <summary>
    /// Recomputes the strong-name hash (whole file except checksum, certificate directory entry and the signature
    /// blob) and checks the RSA signature against the assembly's public key.
    /// </summary>
    public static bool HasValidSignature(string path)
    {
        var bytes = File.ReadAllBytes(path);
        using var pe = new System.Reflection.PortableExecutable.PEReader(new MemoryStream(bytes));
        var headers = pe.PEHeaders;
        var cor = headers.CorHeader!;
        if ((cor.Flags & System.Reflection.PortableExecutable.CorFlags.StrongNameSigned) == 0)
            return false;
        var md = System.Reflection.Metadata.PEReaderExtensions.GetMetadataReader(pe);
        var publicKey = md.GetBlobBytes(md.GetAssemblyDefinition().PublicKey);
        if (publicKey.Length < 32)
            return false;
        int bits = BitConverter.ToInt32(publicKey, 24);
        uint exponent = BitConverter.ToUInt32(publicKey, 28);
        var modulus = publicKey.Skip(32).Take(bits / 8).Reverse().ToArray();
        var exp = BitConverter.GetBytes(exponent).Reverse().SkipWhile(b => b == 0).ToArray();

        if (!headers.TryGetDirectoryOffset(cor.StrongNameSignatureDirectory, out var sigOffset))
            return false;
        var sigSize = cor.StrongNameSignatureDirectory.Size;
        var peHeaderOffset = headers.PEHeaderStartOffset;
        var checksumOffset = peHeaderOffset + 64;
        var is64 = headers.PEHeader!.Magic == System.Reflection.PortableExecutable.PEMagic.PE32Plus;
        var certEntryOffset = peHeaderOffset + (is64 ? 112 : 96) + 4 * 8;

        var copy = (byte[])bytes.Clone();
        Array.Clear(copy, checksumOffset, 4);
        Array.Clear(copy, certEntryOffset, 8);
        // Signed content: the headers without their alignment padding, then each section's raw data, skipping
        // the signature blob itself.
        var data = new MemoryStream();
        data.Write(copy, 0, headers.PEHeaderStartOffset + headers.CoffHeader.SizeOfOptionalHeader + 40 * headers.SectionHeaders.Length);
        foreach (var section in headers.SectionHeaders)
        {
            int start = section.PointerToRawData, end = section.PointerToRawData + section.SizeOfRawData;
            if (sigOffset >= start && sigOffset + sigSize <= end)
            {
                data.Write(copy, start, sigOffset - start);
                data.Write(copy, sigOffset + sigSize, end - sigOffset - sigSize);
            }
            else
            {
                data.Write(copy, start, end - start);
            }
        }
        var hash = SHA1.HashData(data.ToArray());

        var signature = bytes.Skip(sigOffset).Take(sigSize).Reverse().ToArray();
        using var rsa = RSA.Create();
        rsa.ImportParameters(new RSAParameters { Modulus = modulus, Exponent = exp });
        return rsa.VerifyHash(hash, signature, HashAlgorithmName.SHA1, RSASignaturePadding.Pkcs1);
    }
}
