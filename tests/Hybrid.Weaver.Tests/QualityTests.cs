using System;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Reflection;
using Hybrid.Weaving;
using Mono.Cecil;
using Mono.Cecil.Cil;
using NUnit.Framework;

namespace Hybrid.Weaving.Tests;

[TestFixture]
public sealed class QualityTests
{
    private const string Add = "Hybrid.Weaver.Fixtures.Statics.Add";
    private const string Throws = "Hybrid.Weaver.Fixtures.Statics.Throws";

    private static void AssertStackTraceLine(string wovenPath)
    {
        using var context = new IsolatedContext(Path.GetDirectoryName(wovenPath)!);
        var asm = context.LoadFile(wovenPath);
        var throws = asm.GetType("Hybrid.Weaver.Fixtures.Statics")!.GetMethod("Throws")!;
        var line = TestPaths.LineOf("LINE-MARKER: Throws");
        var e = Assert.Throws<TargetInvocationException>(() => throws.Invoke(null, new object[] { 1 }))!;
        Assert.That(e.InnerException!.StackTrace, Does.Contain("Fixtures.cs:line " + line));
    }

    [Test]
    public void PortablePdb_SurvivesWeaving()
    {
        using var dir = new TempDir();
        var input = dir.Copy(TestPaths.Fixtures);
        var pdbBefore = File.ReadAllBytes(Path.ChangeExtension(input, ".pdb"));
        Weave.Ok(input, Throws);
        Assert.That(File.ReadAllBytes(Path.ChangeExtension(input, ".pdb")), Is.Not.EqualTo(pdbBefore), "a matching PDB was written");
        AssertStackTraceLine(input);
    }

    [Test]
    public void EmbeddedPdb_SurvivesWeaving()
    {
        using var dir = new TempDir();
        var source = dir.Copy(TestPaths.Fixtures, "source.dll");
        var input = dir.File("Hybrid.Weaver.Fixtures.dll");
        // Produce an embedded-PDB variant of the fixture (the compiler's portable PDB, embedded by Cecil).
        using (var module = ModuleDefinition.ReadModule(source, new ReaderParameters { ReadSymbols = true }))
            module.Write(input, new WriterParameters { WriteSymbols = true, SymbolWriterProvider = new EmbeddedPortablePdbWriterProvider() });
        File.Delete(dir.File("source.dll"));
        File.Delete(dir.File("source.pdb"));
        Assert.That(File.Exists(Path.ChangeExtension(input, ".pdb")), Is.False);

        Weave.Ok(input, Throws);
        Assert.That(File.Exists(Path.ChangeExtension(input, ".pdb")), Is.False, "embedded stays embedded");
        using (var module = ModuleDefinition.ReadModule(input))
            Assert.That(module.GetDebugHeader().Entries.Any(e => e.Directory.Type == ImageDebugType.EmbeddedPortablePdb), Is.True);
        AssertStackTraceLine(input);
    }

    [Test]
    public void StrongName_ResignedWithKey()
    {
        using var dir = new TempDir();
        var input = dir.Copy(TestPaths.Fixtures);
        Assert.That(StrongName.HasValidSignature(input), Is.True, "control: the compiler-signed fixture verifies");
        var result = Weave.Run(input, null, File.ReadAllBytes(TestPaths.FixtureKey), Add);
        Assert.That(result.Success, Is.True, () => string.Join("\n", result.Diagnostics));
        Assert.That(result.Diagnostics.Select(d => d.Code), Does.Not.Contain(DiagnosticCodes.SignatureRemoved));
        Assert.That(StrongName.HasValidSignature(input), Is.True);
        var tampered = File.ReadAllBytes(input);
        tampered[tampered.Length / 2] ^= 0xFF;
        File.WriteAllBytes(dir.File("tampered.dll"), tampered);
        Assert.That(StrongName.HasValidSignature(dir.File("tampered.dll")), Is.False, "control: the verifier notices tampering");
        Assert.That(AssemblyName.GetAssemblyName(input).GetPublicKeyToken(), Is.EqualTo(AssemblyName.GetAssemblyName(TestPaths.Fixtures).GetPublicKeyToken()));
    }

    [Test]
    public void StrongName_WithoutKey_SignatureRemovedAndSaidSo()
    {
        using var dir = new TempDir();
        var input = dir.Copy(TestPaths.Fixtures);
        var result = Weave.Ok(input, Add);
        var warning = result.Diagnostics.Single(d => d.Code == DiagnosticCodes.SignatureRemoved);
        Assert.That(warning.Severity, Is.EqualTo(DiagnosticSeverity.Warning));
        Assert.That(warning.Message, Does.Contain("signature is removed").And.Contain("--key"));
        Assert.That(StrongName.HasValidSignature(input), Is.False);
        Assert.That(AssemblyName.GetAssemblyName(input).GetPublicKeyToken(), Is.EqualTo(AssemblyName.GetAssemblyName(TestPaths.Fixtures).GetPublicKeyToken()), "identity kept");
    }

    [Test]
    public void StrongName_WrongOrInvalidKey_IsAnErrorAndInputUntouched()
    {
        using var dir = new TempDir();
        var input = dir.Copy(TestPaths.Fixtures);
        var before = File.ReadAllBytes(input);

        var wrong = Weave.Run(input, null, StrongName.NewKeyPair(), Add);
        Assert.That(wrong.Success, Is.False);
        Assert.That(wrong.Diagnostics.Single(d => d.Severity == DiagnosticSeverity.Error).Code, Is.EqualTo(DiagnosticCodes.KeyMismatch));

        var garbage = Weave.Run(input, null, new byte[] { 1, 2, 3 }, Add);
        Assert.That(garbage.Diagnostics.Single(d => d.Severity == DiagnosticSeverity.Error).Code, Is.EqualTo(DiagnosticCodes.InvalidKey));
        Assert.That(File.ReadAllBytes(input), Is.EqualTo(before));
    }

    [Test]
    public void StrongName_UnsignedInputGetsSignedWithKey()
    {
        using var dir = new TempDir();
        var input = dir.Copy(TestPaths.Workloads);
        dir.Copy(TestPaths.Iced);
        dir.Copy(TestPaths.Cecil);
        var result = Weave.Run(input, null, StrongName.NewKeyPair(), "Hybrid.Weaver.Workloads.Workload.Iced");
        Assert.That(result.Success, Is.True, () => string.Join("\n", result.Diagnostics));
        Assert.That(result.Diagnostics.Select(d => d.Code), Does.Contain(DiagnosticCodes.NowStrongNamed));
        Assert.That(StrongName.HasValidSignature(input), Is.True);
    }

    [Test]
    public void Deterministic_SameInputSameBytes()
    {
        using var a = new TempDir();
        using var b = new TempDir();
        var inA = a.Copy(TestPaths.Fixtures);
        var inB = b.Copy(TestPaths.Fixtures);
        Weave.Ok(inA, "Hybrid.Weaver.Fixtures.*");
        Weave.Ok(inB, "Hybrid.Weaver.Fixtures.*");
        Assert.That(File.ReadAllBytes(inA), Is.EqualTo(File.ReadAllBytes(inB)));
        Assert.That(File.ReadAllBytes(Path.ChangeExtension(inA, ".pdb")), Is.EqualTo(File.ReadAllBytes(Path.ChangeExtension(inB, ".pdb"))));

        // Also with --out into different directories: the PDB path recorded in the image must not depend on it.
        var outA = a.File("sub1/Hybrid.Weaver.Fixtures.dll");
        var outB = b.File("sub2/x/Hybrid.Weaver.Fixtures.dll");
        var src = a.Copy(TestPaths.Fixtures, "src.dll");
        Assert.That(Weave.Run(src, outA, null, Add).Success);
        Assert.That(Weave.Run(src, outB, null, Add).Success);
        Assert.That(File.ReadAllBytes(outA), Is.EqualTo(File.ReadAllBytes(outB)));
    }

    [Test]
    public void Idempotent_SecondRunChangesNothingAndSaysSo()
    {
        using var dir = new TempDir();
        var input = dir.Copy(TestPaths.Fixtures);
        Weave.Ok(input, "Hybrid.Weaver.Fixtures.*");
        var once = File.ReadAllBytes(input);
        var stamp = File.GetLastWriteTimeUtc(input);

        var again = Weave.Ok(input, "Hybrid.Weaver.Fixtures.*");
        Assert.That(again.AlreadyWoven, Is.True);
        Assert.That(again.OutputWritten, Is.False);
        Assert.That(again.WovenMethods, Is.Empty);
        var info = again.Diagnostics.Single(d => d.Code == DiagnosticCodes.AlreadyWoven);
        Assert.That(info.Message, Does.Contain("already woven: nothing to do"));
        Assert.That(File.ReadAllBytes(input), Is.EqualTo(once));
        Assert.That(File.GetLastWriteTimeUtc(input), Is.EqualTo(stamp));
    }

    [Test]
    public void FailedRun_LeavesInputUntouchedAndNoTempFiles()
    {
        using var dir = new TempDir();
        var input = dir.Copy(TestPaths.Fixtures);
        var before = File.ReadAllBytes(input);
        var pdbBefore = File.ReadAllBytes(Path.ChangeExtension(input, ".pdb"));
        var result = Weave.Run(input, null, null, Add, "Hybrid.Weaver.Fixtures.Statics.DoesNotExist");
        Assert.That(result.Success, Is.False);
        Assert.That(result.OutputWritten, Is.False);
        Assert.That(File.ReadAllBytes(input), Is.EqualTo(before));
        Assert.That(File.ReadAllBytes(Path.ChangeExtension(input, ".pdb")), Is.EqualTo(pdbBefore));
        Assert.That(Directory.GetFiles(dir.Path).Select(Path.GetFileName), Is.EquivalentTo(new[] { "Hybrid.Weaver.Fixtures.dll", "Hybrid.Weaver.Fixtures.pdb" }));
    }

    [Test]
    public void ReadOnlyInput_ClearErrorAndUntouched()
    {
        using var dir = new TempDir();
        var input = dir.Copy(TestPaths.Fixtures);
        var before = File.ReadAllBytes(input);
        File.SetAttributes(input, FileAttributes.ReadOnly);
        var result = Weave.Run(input, null, null, Add);
        var error = result.Diagnostics.Single(d => d.Severity == DiagnosticSeverity.Error);
        Assert.That(error.Code, Is.EqualTo(DiagnosticCodes.CannotWrite));
        Assert.That(error.Message, Does.Contain("read-only").And.Contain("--out"));
        Assert.That(File.ReadAllBytes(input), Is.EqualTo(before));
        Assert.That(Directory.GetFiles(dir.Path), Has.Length.EqualTo(2), "temp files cleaned up");

        // Writing elsewhere still works.
        Assert.That(Weave.Run(input, dir.File("out/woven.dll"), null, Add).Success, Is.True);
    }

    [TestCase("text")]
    [TestCase("truncated")]
    [TestCase("native")]
    public void BadInput_ClearErrorAndUntouched(string kind)
    {
        using var dir = new TempDir();
        var input = dir.File("Bad.dll");
        var fixture = File.ReadAllBytes(TestPaths.Fixtures);
        switch (kind)
        {
            case "text": File.WriteAllText(input, "this is not an assembly"); break;
            case "truncated": File.WriteAllBytes(input, fixture.Take(fixture.Length / 3).ToArray()); break;
            case "native":
                // A PE header with no CLI header, like a native DLL.
                var bytes = fixture.ToArray();
                using (var pe = new System.Reflection.PortableExecutable.PEReader(new MemoryStream(fixture)))
                {
                    var offset = pe.PEHeaders.PEHeaderStartOffset + (pe.PEHeaders.PEHeader!.Magic == System.Reflection.PortableExecutable.PEMagic.PE32Plus ? 112 : 96) + 14 * 8;
                    Array.Clear(bytes, offset, 8);
                }
                File.WriteAllBytes(input, bytes);
                break;
        }
        var before = File.ReadAllBytes(input);
        var result = Weave.Run(input, null, null, "*");
        var error = result.Diagnostics.Single(d => d.Severity == DiagnosticSeverity.Error);
        Assert.That(error.Code, Is.EqualTo(DiagnosticCodes.InvalidAssembly), error.ToString());
        Assert.That(error.ToString(), Does.Contain("Bad.dll").And.Contain("not a valid .NET assembly").Or.Contain("corrupt"));
        Assert.That(File.ReadAllBytes(input), Is.EqualTo(before));
    }

    [Test]
    public void MissingInput_And_MissingReferences()
    {
        using var dir = new TempDir();
        var missing = Weave.Run(dir.File("nope.dll"), null, null, "*");
        Assert.That(missing.Diagnostics.Single().Code, Is.EqualTo(DiagnosticCodes.InputNotFound));

        // The workloads assembly references Iced and Mono.Cecil; copy it alone.
        var input = dir.Copy(TestPaths.Workloads);
        var before = File.ReadAllBytes(input);
        var result = Weave.Run(input, null, null, "*");
        var errors = result.Diagnostics.Where(d => d.Severity == DiagnosticSeverity.Error).ToList();
        Assert.That(errors.Select(e => e.Code), Is.All.EqualTo(DiagnosticCodes.MissingReference));
        Assert.That(string.Join("\n", errors), Does.Contain("'Iced,").And.Contain("'Mono.Cecil,").And.Contain("-r <dir>"));
        Assert.That(File.ReadAllBytes(input), Is.EqualTo(before));

        // -r fixes it; --allow-missing-references downgrades it.
        var fixedRun = Hybrid.Weaving.Weaver.Weave(new WeaverOptions { InputPath = input, Selectors = new[] { "*" }, ReferenceSearchDirectories = new[] { TestPaths.Bin } });
        Assert.That(fixedRun.Success, Is.True, () => string.Join("\n", fixedRun.Diagnostics));
    }

    [Test]
    public void WeavingMonoCecil_IsFast()
    {
        using var dir = new TempDir();
        var input = dir.Copy(TestPaths.Cecil);
        Weave.Ok(dir.Copy(TestPaths.Cecil, "warmup.dll"), "*"); // JIT the weaver and Cecil first
        var clock = Stopwatch.StartNew();
        var result = Weave.Ok(input, "*");
        clock.Stop();
        TestContext.Out.WriteLine($"Weaving Mono.Cecil.dll: {result.WovenMethods.Count} methods woven, {result.SkippedMethods.Count} skipped, in {clock.ElapsedMilliseconds} ms ({result.WovenMethods.Count / clock.Elapsed.TotalSeconds:F0} methods/s)");
        Assert.That(result.WovenMethods.Count, Is.GreaterThan(2000));
    }
}
