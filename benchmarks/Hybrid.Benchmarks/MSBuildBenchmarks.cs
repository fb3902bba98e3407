using System;
using System.Diagnostics;
using System.IO;
using BenchmarkDotNet.Attributes;

namespace Hybrid.Benchmarks
{
    /// <summary>
    /// Item 6, second half: what the Hybrid MSBuild integration (msbuild/Hybrid.MSBuild, &lt;Patchable&gt; items) adds
    /// to an incremental <c>dotnet build</c> in which nothing changed. Two copies of the same small library in a
    /// temporary directory (outside the repository, so its Directory.Build.props do not apply) are built once in
    /// setup; each invocation then runs <c>dotnet build --no-restore</c> again on one of them:
    /// <list type="bullet">
    /// <item>baseline: the project without Hybrid;</item>
    /// <item>the same project importing Hybrid's build/Hybrid.props and build/Hybrid.targets (the layout of the NuGet
    /// package: the task from msbuild/Hybrid.MSBuild, built in setup, in tasks/net8.0/) with one
    /// &lt;Patchable&gt; method.</item>
    /// </list>
    /// Setup checks that the Hybrid copy's output really is woven; cleanup checks that the no-change builds did not
    /// weave (or even write) the assembly again. One build per invocation, so a run is a handful of builds: the
    /// figures are seconds with large error bars on a loaded machine, and the difference is what matters.
    /// </summary>
    [WarmupCount(1)]
    [IterationCount(5)]
    [InvocationCount(1, 1)]
    public class MSBuildBenchmarks
    {
        string _root = "", _plain = "", _woven = "", _wovenDll = "";
        DateTime _wovenStamp;

        [GlobalSetup]
        public void Setup()
        {
            var repo = RepositoryRoot();
            _root = Path.Combine(Path.GetTempPath(), "hybrid-bench-msbuild-" + Guid.NewGuid().ToString("N"));
            var package = Path.Combine(_root, "hybrid");
            var tasks = Path.Combine(package, "tasks", "net8.0");
            var taskProject = Path.Combine(repo, "msbuild", "Hybrid.MSBuild", "Hybrid.MSBuild.csproj");
            // Built into its own bin/Release (incremental when unchanged), then copied into the package layout.
            Dotnet($"build \"{taskProject}\" -c Release -nologo -v:q -nodeReuse:false", repo);
            var taskOutput = Path.Combine(repo, "msbuild", "Hybrid.MSBuild", "bin", "Release", "net8.0");
            Directory.CreateDirectory(tasks);
            foreach (var file in Directory.GetFiles(taskOutput))
                File.Copy(file, Path.Combine(tasks, Path.GetFileName(file)));
            foreach (var folder in new[] { "build", "buildTransitive" })
            {
                Directory.CreateDirectory(Path.Combine(package, folder));
                foreach (var file in Directory.GetFiles(Path.Combine(repo, "msbuild", "Hybrid.MSBuild", folder)))
                    File.Copy(file, Path.Combine(package, folder, Path.GetFileName(file)));
            }

            _plain = WriteProject("plain", hybrid: false);
            _woven = WriteProject("woven", hybrid: true);
            Dotnet("build -c Release -nologo -v:q -nodeReuse:false", _plain);
            Dotnet("build -c Release -nologo -v:q -nodeReuse:false", _woven);
            _wovenDll = Path.Combine(_woven, "bin", "Release", "net10.0", "App.dll");
            if (!File.ReadAllText(_wovenDll, System.Text.Encoding.Latin1).Contains("HybridWovenAttribute", StringComparison.Ordinal))
                throw new InvalidOperationException(_wovenDll + " was not woven by the MSBuild task");
            _wovenStamp = File.GetLastWriteTimeUtc(_wovenDll);
        }

        [GlobalCleanup]
        public void Cleanup()
        {
            bool rewritten = File.GetLastWriteTimeUtc(_wovenDll) != _wovenStamp;
            Directory.Delete(_root, recursive: true);
            if (rewritten)
                throw new InvalidOperationException("a no-change build wrote the woven assembly again (weaving was not skipped)");
        }

        [Benchmark(Baseline = true, Description = "no-change dotnet build, project without Hybrid")]
        public void Plain() => Dotnet("build -c Release --no-restore -nologo -v:q -nodeReuse:false", _plain);

        [Benchmark(Description = "no-change dotnet build, same project with Hybrid and 1 <Patchable>")]
        public void WithHybrid() => Dotnet("build -c Release --no-restore -nologo -v:q -nodeReuse:false", _woven);

        string WriteProject(string name, bool hybrid)
        {
            var dir = Path.Combine(_root, name);
            Directory.CreateDirectory(dir);
            File.WriteAllText(Path.Combine(dir, "Clock.cs"),
                "namespace App { public static class Clock { public static long Now() => System.DateTime.UtcNow.Ticks; public static long Twice() => Now() * 2; } }\n");
            string hybridProps = hybrid ? "  <Import Project=\"../hybrid/build/Hybrid.props\" />\n" : "";
            string hybridTargets = hybrid ? "  <Import Project=\"../hybrid/build/Hybrid.targets\" />\n" : "";
            string patchable = hybrid ? "  <ItemGroup>\n    <Patchable Include=\"App.Clock.Now\" />\n  </ItemGroup>\n" : "";
            // Explicit SDK imports so Hybrid's props/targets sit where a package's build/ files are imported.
            File.WriteAllText(Path.Combine(dir, "App.csproj"),
                "<Project>\n" +
                "  <Import Project=\"Sdk.props\" Sdk=\"Microsoft.NET.Sdk\" />\n" +
                hybridProps +
                "  <PropertyGroup>\n    <TargetFramework>net10.0</TargetFramework>\n    <AssemblyName>App</AssemblyName>\n    <Nullable>enable</Nullable>\n  </PropertyGroup>\n" +
                patchable +
                "  <Import Project=\"Sdk.targets\" Sdk=\"Microsoft.NET.Sdk\" />\n" +
                hybridTargets +
                "</Project>\n");
            return dir;
        }

        static void Dotnet(string arguments, string workingDirectory)
        {
            var info = new ProcessStartInfo("dotnet", arguments)
            {
                WorkingDirectory = workingDirectory,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            info.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
            info.Environment["DOTNET_NOLOGO"] = "1";
            info.Environment["DOTNET_CLI_DO_NOT_USE_MSBUILD_SERVER"] = "1";
            using var process = Process.Start(info)!;
            var output = process.StandardOutput.ReadToEndAsync();
            var error = process.StandardError.ReadToEndAsync();
            process.WaitForExit();
            if (process.ExitCode != 0)
                throw new InvalidOperationException($"dotnet {arguments} (in {workingDirectory}) failed with {process.ExitCode}:{Environment.NewLine}{output.Result}{error.Result}");
        }

        static string RepositoryRoot()
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "Hybrid.sln")) && Directory.Exists(Path.Combine(dir.FullName, "msbuild")))
                    return dir.FullName;
            }
            throw new InvalidOperationException("The Hybrid repository (Hybrid.sln, msbuild/) was not found above " + AppContext.BaseDirectory);
        }
    }
}
