using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Text;
using Hybrid.Weaver.Workloads;

namespace Hybrid.Differential;

/// <summary>One deterministic workload run on one input.</summary>
internal sealed record WorkloadCase(string Name, Func<string> Run);

/// <summary>The Iced and Cecil workloads of Hybrid.Weaver.Workloads, and the lane's Newtonsoft.Json workloads, with
/// inputs fixed once at start-up.</summary>
internal static class WorkloadSet
{
    /// <summary>
    /// Inputs are read before anything is redirected and reused in every phase, so a digest can only change because
    /// the libraries behaved differently.
    /// </summary>
    public static List<WorkloadCase> Create(IEnumerable<Assembly> libraries, TextWriter log)
    {
        var cases = new List<WorkloadCase>();
        // Random bytes reach rare encodings (VEX/EVEX/XOP, invalid forms); real compiled code reaches the common ones.
        var random = new byte[48 * 1024];
        new Random(12345).NextBytes(random);
        cases.Add(new WorkloadCase("iced: decode+format 48 KiB pseudo-random bytes", () => Workload.Iced(random)));
        var jit = Path.Combine(RuntimeEnvironment.GetRuntimeDirectory(), OperatingSystem.IsWindows() ? "clrjit.dll" : OperatingSystem.IsMacOS() ? "libclrjit.dylib" : "libclrjit.so");
        var text = File.Exists(jit) ? ElfText(File.ReadAllBytes(jit), 64 * 1024) : null;
        if (text is not null)
            cases.Add(new WorkloadCase($"iced: decode+format 64 KiB of {Path.GetFileName(jit)} .text", () => Workload.Iced(text)));
        else
            log.WriteLine($"note: no ELF .text in {jit}; only the pseudo-random Iced input is used");
        foreach (var library in libraries)
        {
            if (string.IsNullOrEmpty(library.Location))
                continue;
            var bytes = File.ReadAllBytes(library.Location);
            cases.Add(new WorkloadCase($"cecil: read+list+write {Path.GetFileName(library.Location)}", () => Workload.Cecil(bytes)));
        }
        if (libraries.Any(l => l.GetName().Name == "Newtonsoft.Json"))
        {
            // The graph is built by lane code only: nothing of Newtonsoft.Json runs (or is compiled) before the redirects.
            const int orders = 400;
            var shop = JsonWorkload.CreateShop(orders, seed: 20240229);
            cases.Add(new WorkloadCase($"json: serialize+deserialize a {orders}-order graph (4 settings, populate, untyped, XML)", () => JsonWorkload.Serializer(shop)));
            cases.Add(new WorkloadCase("json: LINQ to JSON (JSONPath, modify, clone, merge, ToObject)", () => JsonWorkload.Linq(shop)));
            cases.Add(new WorkloadCase("json: JsonTextWriter/JsonTextReader token streaming", () => JsonWorkload.Streaming(shop)));
        }
        return cases;
    }

    /// <summary>Runs every case; an exception becomes the digest, so it is reported and compared like any other result.</summary>
    public static List<(string Digest, TimeSpan Elapsed)> Run(List<WorkloadCase> cases, TextWriter log, string phase)
    {
        var results = new List<(string, TimeSpan)>();
        foreach (var c in cases)
        {
            var watch = Stopwatch.StartNew();
            string digest;
            try
            {
                digest = c.Run();
            }
            catch (Exception e)
            {
                digest = $"EXCEPTION {e.GetType().FullName}: {OneLine(e.Message)} at {FirstFrames(e)}";
            }
            watch.Stop();
            log.WriteLine($"  [{phase}] {c.Name}: {Shorten(digest)} ({watch.Elapsed.TotalSeconds:F2} s)");
            log.Flush();
            results.Add((digest, watch.Elapsed));
        }
        return results;
    }

    public static string Shorten(string digest) => digest.StartsWith("EXCEPTION", StringComparison.Ordinal) || digest.Length <= 40 ? digest : digest[..40] + "…";

    private static string OneLine(string s) => s.Replace('\n', ' ').Replace('\r', ' ');

    private static string FirstFrames(Exception e)
    {
        var lines = (e.StackTrace ?? "").Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var sb = new StringBuilder();
        for (int i = 0; i < lines.Length && i < 4; i++)
            sb.Append(i == 0 ? "" : " <- ").Append(lines[i].StartsWith("at ", StringComparison.Ordinal) ? lines[i][3..] : lines[i]);
        return sb.ToString();
    }

    /// <summary>The first <paramref name="max"/> bytes of an ELF64 file's .text section, or null when it has none.</summary>
    private static byte[]? ElfText(byte[] elf, int max)
    {
        if (elf.Length < 64 || elf[0] != 0x7F || elf[1] != (byte)'E' || elf[2] != (byte)'L' || elf[3] != (byte)'F' || elf[4] != 2)
            return null;
        var span = elf.AsSpan();
        long sectionHeaders = BinaryPrimitives.ReadInt64LittleEndian(span[0x28..]);
        int entrySize = BinaryPrimitives.ReadUInt16LittleEndian(span[0x3A..]);
        int count = BinaryPrimitives.ReadUInt16LittleEndian(span[0x3C..]);
        int namesIndex = BinaryPrimitives.ReadUInt16LittleEndian(span[0x3E..]);
        if (sectionHeaders <= 0 || sectionHeaders + (long)entrySize * count > elf.Length || namesIndex >= count)
            return null;
        ReadOnlySpan<byte> Header(int i) => elf.AsSpan((int)sectionHeaders + i * entrySize, entrySize);
        long namesOffset = BinaryPrimitives.ReadInt64LittleEndian(Header(namesIndex)[0x18..]);
        for (int i = 0; i < count; i++)
        {
            var header = Header(i);
            int nameOffset = (int)(namesOffset + BinaryPrimitives.ReadUInt32LittleEndian(header));
            int end = Array.IndexOf(elf, (byte)0, nameOffset);
            if (end < 0 || Encoding.ASCII.GetString(elf, nameOffset, end - nameOffset) != ".text")
                continue;
            long offset = BinaryPrimitives.ReadInt64LittleEndian(header[0x18..]);
            long size = Math.Min(BinaryPrimitives.ReadInt64LittleEndian(header[0x20..]), max);
            return offset + size <= elf.Length ? elf.AsSpan((int)offset, (int)size).ToArray() : null;
        }
        return null;
    }
}
