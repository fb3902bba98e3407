using System.Diagnostics;
using System.IO;
using Hybrid.Weaving;
using Hybrid.Weaving.Cli;
using NUnit.Framework;

namespace Hybrid.Weaving.Tests;

[TestFixture]
public sealed class CliTests
{
    private static (int Code, string Out, string Err) Cli(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var code = CliApp.Run(args, stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }

    [Test]
    public void Success_PrintsSummary()
    {
        using var dir = new TempDir();
        var input = dir.Copy(TestPaths.Fixtures);
        var (code, output, error) = Cli(input, "--patchable", "Hybrid.Weaver.Fixtures.Statics.Add", "Hybrid.Weaver.Fixtures.Counter.*", "--key", TestPaths.FixtureKey, "-v");
        Assert.That(code, Is.EqualTo(CliApp.Ok), error);
        Assert.That(output, Does.Contain("wove ").And.Contain("woven   System.Int32 Hybrid.Weaver.Fixtures.Statics::Add"));
        Assert.That(StrongName.HasValidSignature(input), Is.True);

        (code, output, _) = Cli(input, "-p", "*");
        Assert.That(code, Is.EqualTo(CliApp.Ok));
        Assert.That(output, Does.Contain(DiagnosticCodes.AlreadyWoven).And.Contain("nothing to do"));
    }

    [Test]
    public void NothingWoven_LeavesTheAssemblyUnmarked_SoALaterRunWeaves()
    {
        // A selector naming a framework method the assembly never calls (HYB0015) weaves nothing; the assembly
        // must not be rewritten or marked woven, or the next, correct run would say "already woven".
        using var dir = new TempDir();
        var input = dir.Copy(TestPaths.Fixtures);
        var before = File.ReadAllBytes(input);
        var (code, output, error) = Cli(input, "-p", "System.IO.File.ReadAllLines");
        Assert.That(code, Is.EqualTo(CliApp.Ok), error);
        Assert.That(output + error, Does.Contain(DiagnosticCodes.NoCallSites).And.Contain(DiagnosticCodes.NothingWoven));
        Assert.That(File.ReadAllBytes(input), Is.EqualTo(before), "left exactly as it was");

        (code, output, error) = Cli(input, "-p", "Hybrid.Weaver.Fixtures.Statics.Add");
        Assert.That(code, Is.EqualTo(CliApp.Ok), error);
        Assert.That(output, Does.Contain("wove 1 method").And.Not.Contain(DiagnosticCodes.AlreadyWoven));
    }

    [Test]
    public void OutOption_LeavesInputAlone()
    {
        using var dir = new TempDir();
        var input = dir.Copy(TestPaths.Fixtures);
        var before = File.ReadAllBytes(input);
        var output = dir.File("out/Woven.dll");
        var (code, _, error) = Cli("--patchable", "*", input, "--out", output);
        Assert.That(code, Is.EqualTo(CliApp.Ok), error);
        Assert.That(File.ReadAllBytes(input), Is.EqualTo(before));
        Assert.That(File.Exists(output) && File.Exists(dir.File("out/Woven.pdb")), Is.True);
    }

    [Test]
    public void Errors_NameFileReasonAndFix_ExitNonZero()
    {
        using var dir = new TempDir();
        var input = dir.Copy(TestPaths.Fixtures);
        var (code, _, error) = Cli(input, "--patchable", "Hybrid.Weaver.Fixtures.Statics.Ad");
        Assert.That(code, Is.EqualTo(CliApp.WeaveFailed));
        Assert.That(error, Does.Contain(input).And.Contain("error HYB0010").And.Contain("Statics.Add").And.Contain("was not modified"));

        (code, _, error) = Cli(dir.File("missing.dll"), "--patchable", "*");
        Assert.That(code, Is.EqualTo(CliApp.WeaveFailed));
        Assert.That(error, Does.Contain("HYB0001"));

        (code, _, error) = Cli(input, "--patchable", "*", "--key", dir.File("nokey.snk"));
        Assert.That(code, Is.EqualTo(CliApp.WeaveFailed));
        Assert.That(error, Does.Contain("nokey.snk"));
    }

    [TestCase("")]
    [TestCase("a.dll")]
    [TestCase("a.dll --patchable")]
    [TestCase("a.dll -p X.Y.Z --bogus")]
    [TestCase("a.dll b.dll -p X.Y.Z")]
    public void UsageErrors(string commandLine)
    {
        var args = commandLine.Split(' ', System.StringSplitOptions.RemoveEmptyEntries);
        var (code, _, error) = Cli(args);
        Assert.That(code, Is.EqualTo(CliApp.UsageError));
        Assert.That(error, Does.Contain("hybrid-weave: error:"));
    }

    [Test]
    public void Help()
    {
        var (code, output, _) = Cli("--help");
        Assert.That(code, Is.EqualTo(CliApp.Ok));
        Assert.That(output, Does.Contain("--patchable"));
    }

    [Test]
    public void RealProcess_ExitCodeOnBadInput()
    {
        using var dir = new TempDir();
        var bad = dir.File("Bad.dll");
        File.WriteAllText(bad, "not an assembly");
        var psi = new ProcessStartInfo("dotnet")
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
        };
        psi.ArgumentList.Add(Path.Combine(TestPaths.Bin, "hybrid-weave.dll"));
        psi.ArgumentList.Add(bad);
        psi.ArgumentList.Add("--patchable");
        psi.ArgumentList.Add("*");
        using var process = Process.Start(psi)!;
        var stderr = process.StandardError.ReadToEnd();
        process.WaitForExit();
        Assert.That(process.ExitCode, Is.EqualTo(CliApp.WeaveFailed), stderr);
        Assert.That(stderr, Does.Contain("Bad.dll").And.Contain("HYB0002"));
    }
}
