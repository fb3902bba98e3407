using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using NUnit.Framework;

namespace Hybrid.Tests.Arm64;

/// <summary>
/// Finds the cross tools the Arm64 tests shell out to. Policy: a missing tool is an Ignore (with the install command)
/// on a developer machine, and a failure when CI=true — CI must never go green by skipping the only evidence that the
/// emitted bytes are right.
/// </summary>
internal static class Arm64Tools
{
    public const string Objdump = "aarch64-linux-gnu-objdump";
    public const string Assembler = "aarch64-linux-gnu-as";
    public const string Gcc = "aarch64-linux-gnu-gcc";
    public const string Qemu = "qemu-aarch64-static";

    private const string InstallHint = "apt-get install -y binutils-aarch64-linux-gnu gcc-aarch64-linux-gnu qemu-user-static (or run .ci/arm64.sh)";

    public static bool IsCi => string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);

    public static string Require(string tool)
    {
        string? path = Find(tool);
        if (path != null)
            return path;
        string message = $"'{tool}' is not on PATH; install it with: {InstallHint}";
        if (!OperatingSystem.IsLinux())
            Assert.Ignore($"the arm64 encoder and execution tests need Linux cross tools ('{tool}'); they run in the Linux lanes");
        if (IsCi)
            Assert.Fail("CI=true and " + message);
        Assert.Ignore(message);
        return null!; // unreachable: Assert.Ignore throws
    }

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, string?> s_found = new();

    // Looked up once per tool: hundreds of tests ask for objdump/qemu, and each lookup made
    // Environment.GetEnvironmentVariable hotter; TargetKindTests redirects that method, and under load it once saw the
    // original run (not root-caused; see docs/arm64.md, "Not done / open").
    public static string? Find(string tool) => s_found.GetOrAdd(tool, Search);

    private static string? Search(string tool)
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator))
        {
            if (dir.Length == 0)
                continue;
            string candidate = Path.Combine(dir, tool);
            if (File.Exists(candidate))
                return candidate;
        }
        return null;
    }

    public static string RepoRoot
    {
        get
        {
            var dir = new DirectoryInfo(TestContext.CurrentContext.TestDirectory);
            while (dir != null && !File.Exists(Path.Combine(dir.FullName, "Hybrid.sln")))
                dir = dir.Parent;
            return dir?.FullName ?? throw new InvalidOperationException("Could not find Hybrid.sln above " + TestContext.CurrentContext.TestDirectory);
        }
    }

    /// <summary>
    /// Runs a tool and returns its exit code and output. Under qemu-user (the arm64 CoreCLR lanes) a forked child can
    /// deadlock before it execs the tool — qemu's own locks, held by another guest thread at the fork, stay locked in
    /// the child (seen here: Process.Start blocked for 20 minutes reading its exec-status pipe, the child idle). The
    /// tool itself is deterministic, so a start that has not returned within <see cref="StartTimeoutMs"/> is undone
    /// (the stuck copy of this process is killed) and the tool is started again, at most twice, each time logged.
    /// </summary>
    public static (int ExitCode, string StdOut, string StdErr) Run(string file, IEnumerable<string> args, string? stdin = null, int timeoutMs = 60_000, IDictionary<string, string>? env = null)
    {
        var argList = args.ToList();
        for (int attempt = 1; ; attempt++)
        {
            var psi = new ProcessStartInfo(file)
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                RedirectStandardInput = stdin != null,
                UseShellExecute = false,
            };
            foreach (var a in argList)
                psi.ArgumentList.Add(a);
            if (env != null)
                foreach (var kv in env)
                    psi.Environment[kv.Key] = kv.Value;
            var start = System.Threading.Tasks.Task.Run(() => Process.Start(psi)!);
            if (!start.Wait(StartTimeoutMs))
            {
                int killed = KillForksThatNeverExeced();
                TestContext.Out.WriteLine($"starting {file} did not return within {StartTimeoutMs} ms (attempt {attempt}); killed {killed} forked child(ren) that never exec'd it");
                if (start.Wait(10_000))
                    start.Result.Dispose();
                if (attempt == 3)
                    Assert.Fail($"{file} {string.Join(" ", argList)} could not be started: the forked child never exec'd it, three times");
                continue;
            }
            using var p = start.Result;
            var stdout = p.StandardOutput.ReadToEndAsync();
            var stderr = p.StandardError.ReadToEndAsync();
            if (stdin != null)
            {
                p.StandardInput.Write(stdin);
                p.StandardInput.Close();
            }
            if (!p.WaitForExit(timeoutMs))
            {
                p.Kill(entireProcessTree: true);
                Assert.Fail($"{file} {string.Join(" ", argList)} timed out after {timeoutMs} ms");
            }
            p.WaitForExit();
            return (p.ExitCode, stdout.Result, stderr.Result);
        }
    }

    private const int StartTimeoutMs = 60_000;

    /// <summary>
    /// Kills this process's children that still run this program — forks that never exec'd the tool (a tool that did
    /// exec has its own command line).
    /// </summary>
    private static int KillForksThatNeverExeced()
    {
        int killed = 0;
        string? self = Environment.ProcessPath;
        if (!OperatingSystem.IsLinux() || string.IsNullOrEmpty(self))
            return 0;
        foreach (var task in Directory.GetDirectories("/proc/self/task"))
        {
            string children;
            try
            {
                children = File.ReadAllText(Path.Combine(task, "children"));
            }
            catch (IOException)
            {
                continue;
            }
            foreach (var pid in children.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            {
                try
                {
                    string cmdline = File.ReadAllText($"/proc/{pid}/cmdline").Replace('\0', ' ');
                    if (!cmdline.Contains(self, StringComparison.Ordinal))
                        continue; // the tool, running
                    Process.GetProcessById(int.Parse(pid)).Kill();
                    killed++;
                }
                catch (Exception e) when (e is IOException or ArgumentException or InvalidOperationException or UnauthorizedAccessException or System.ComponentModel.Win32Exception)
                {
                }
            }
        }
        return killed;
    }

    /// <summary>Builds the harness once per source revision (tests/arm64/harness.c, static, for qemu-aarch64-static; cached under the test project's obj/).</summary>
    public static string Harness()
    {
        string gcc = Require(Gcc);
        string source = Path.Combine(RepoRoot, "tests", "arm64", "harness.c");
        string text = File.ReadAllText(source);
        string dir = Path.Combine(RepoRoot, "tests", "Hybrid.Engine.Tests", "obj", "arm64-harness", Sha256(text));
        string exe = Path.Combine(dir, "harness");
        if (File.Exists(exe))
            return exe;
        Directory.CreateDirectory(dir);
        string tmp = exe + "." + Guid.NewGuid().ToString("N");
        var r = Run(gcc, new[] { "-static", "-O2", "-Wall", "-Wextra", "-Werror", "-o", tmp, source }, timeoutMs: 120_000);
        Assert.That(r.ExitCode, Is.EqualTo(0), "building the arm64 harness failed:\n" + r.StdErr);
        File.Move(tmp, exe, overwrite: true);
        return exe;
    }

    /// <summary>
    /// Runs a harness script under qemu with <paramref name="cpu"/>; asserts a clean exit and one output line per
    /// expected line, and returns the output with a transcript for assertion messages.
    /// </summary>
    public static (List<string> Output, string Transcript) RunHarness(string script, string cpu, int expectedLines)
    {
        string qemu = Require(Qemu);
        var (code, stdout, stderr) = Run(qemu, new[] { Harness() }, script, env: new Dictionary<string, string> { ["QEMU_CPU"] = cpu });
        var output = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).ToList();
        string transcript = $"cpu {cpu}, exit {code}\n--- script\n{script}--- output\n{stdout}--- stderr\n{stderr}";
        Assert.That(code, Is.EqualTo(0), transcript);
        Assert.That(output.Count, Is.EqualTo(expectedLines), transcript);
        return (output, transcript);
    }

    public static string TempFile(string extension)
    {
        string dir = Path.Combine(Path.GetTempPath(), "hybrid-arm64-tests");
        Directory.CreateDirectory(dir);
        return Path.Combine(dir, Guid.NewGuid().ToString("N") + extension);
    }

    public static string Sha256(string text) => Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(text))).Substring(0, 16).ToLowerInvariant();
}

/// <summary>One line of <c>objdump -D -b binary -m aarch64</c>.</summary>
internal sealed record ObjdumpLine(ulong Address, uint Word, string Mnemonic, string Operands)
{
    public override string ToString() => $"{Address:x}: {Word:x8} {Mnemonic} {Operands}";
}

/// <summary>GNU objdump as an independent decoder of the bytes the engine emits.</summary>
internal static class Objdump
{
    private static readonly Regex Line = new(@"^\s*([0-9a-f]+):\s+([0-9a-f]{8})\s+(\S+)(?:\s+(.*?))?\s*$", RegexOptions.Compiled);

    public static List<ObjdumpLine> Disassemble(byte[] bytes, ulong vma)
    {
        string tool = Arm64Tools.Require(Arm64Tools.Objdump);
        string file = Arm64Tools.TempFile(".bin");
        File.WriteAllBytes(file, bytes);
        try
        {
            var (code, stdout, stderr) = Arm64Tools.Run(tool, new[] { "-D", "-b", "binary", "-m", "aarch64", $"--adjust-vma=0x{vma:x}", file });
            Assert.That(code, Is.EqualTo(0), stderr);
            var lines = new List<ObjdumpLine>();
            foreach (var raw in stdout.Split('\n'))
            {
                var m = Line.Match(raw);
                if (!m.Success)
                    continue;
                string operands = m.Groups[4].Value;
                int comment = operands.IndexOf("//", StringComparison.Ordinal);
                if (comment >= 0)
                    operands = operands.Substring(0, comment);
                lines.Add(new ObjdumpLine(
                    ulong.Parse(m.Groups[1].Value, NumberStyles.HexNumber),
                    uint.Parse(m.Groups[2].Value, NumberStyles.HexNumber),
                    m.Groups[3].Value,
                    operands.Trim()));
            }
            Assert.That(lines.Count, Is.EqualTo(bytes.Length / 4), "objdump should print one line per word:\n" + stdout);
            return lines;
        }
        finally
        {
            File.Delete(file);
        }
    }

    /// <summary>
    /// Interprets a disassembled jump sequence from its first instruction, using only objdump's text (and the raw
    /// bytes for a literal pool), and returns where it goes and the mnemonics it executed. Any instruction outside
    /// the small jump vocabulary fails the test: the sequence must do nothing but reach its target.
    /// </summary>
    public static (ulong Target, List<string> Executed) Interpret(List<ObjdumpLine> lines, byte[] bytes, ulong vma)
    {
        var regs = new Dictionary<string, ulong>();
        var executed = new List<string>();
        int pc = 0;
        for (int steps = 0; steps < 16; steps++)
        {
            Assert.That(pc, Is.InRange(0, lines.Count - 1), "execution ran off the end of the sequence");
            var l = lines[pc];
            executed.Add(l.Mnemonic);
            string[] ops = l.Operands.Split(',').Select(s => s.Trim()).ToArray();
            switch (l.Mnemonic)
            {
                case "b":
                    return (ParseNumber(ops[0]), executed);
                case "br":
                    Assert.That(regs.ContainsKey(ops[0]), $"br {ops[0]} before it was set");
                    return (regs[ops[0]], executed);
                case "mov":
                    regs[ops[0]] = ParseNumber(ops[1]);
                    break;
                case "movz":
                    regs[ops[0]] = ParseNumber(ops[1]) << Shift(ops);
                    break;
                case "movn":
                    regs[ops[0]] = ~(ParseNumber(ops[1]) << Shift(ops));
                    break;
                case "movk":
                {
                    int shift = Shift(ops);
                    Assert.That(regs.ContainsKey(ops[0]), "movk before mov");
                    regs[ops[0]] = (regs[ops[0]] & ~(0xFFFFUL << shift)) | (ParseNumber(ops[1]) << shift);
                    break;
                }
                case "ldr":
                {
                    ulong literal = ParseNumber(ops[1]);
                    Assert.That(literal % 8, Is.EqualTo(0UL), $"literal 0x{literal:x} must be 8-byte aligned for a single-copy-atomic load");
                    long offset = (long)(literal - vma);
                    Assert.That(offset, Is.InRange(0L, bytes.Length - 8L), "literal outside the emitted sequence");
                    regs[ops[0]] = BitConverter.ToUInt64(bytes, (int)offset);
                    break;
                }
                default:
                    Assert.Fail($"unexpected instruction in a jump sequence: {l}");
                    break;
            }
            pc++;
        }
        Assert.Fail("sequence did not branch within 16 instructions");
        return default;
    }

    public static ulong ParseNumber(string text)
    {
        text = text.Trim().TrimStart('#');
        if (text.StartsWith("0x", StringComparison.OrdinalIgnoreCase))
            return ulong.Parse(text.Substring(2), NumberStyles.HexNumber);
        if (text.StartsWith("-", StringComparison.Ordinal))
            return unchecked((ulong)long.Parse(text, CultureInfo.InvariantCulture));
        return ulong.Parse(text, CultureInfo.InvariantCulture);
    }

    private static int Shift(string[] ops)
    {
        var lsl = ops.FirstOrDefault(o => o.StartsWith("lsl", StringComparison.Ordinal));
        return lsl == null ? 0 : (int)ParseNumber(lsl.Substring(3));
    }
}
