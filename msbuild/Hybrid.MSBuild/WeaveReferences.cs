using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

namespace Hybrid.Build
{
    /// <summary>
    /// Weaves referenced assemblies named by &lt;Patchable Assembly="..."&gt; (NuGet packages or project references).
    /// The original is only read; a woven copy is written to obj/ and swapped into @(ReferenceCopyLocalPaths), so
    /// bin/ (and therefore test runs) get the woven copy while the NuGet cache and the other project stay untouched.
    /// </summary>
    public sealed class WeaveReferences : WeaveTaskBase
    {
        /// <summary>@(ReferenceCopyLocalPaths): the files the build is about to copy to bin/.</summary>
        public ITaskItem[] ReferenceCopyLocalPaths { get; set; } = Array.Empty<ITaskItem>();

        /// <summary>Where woven copies go (under obj/).</summary>
        [Required]
        public string OutputDirectory { get; set; } = "";

        /// <summary>Woven copies (assembly and PDB) to add to @(ReferenceCopyLocalPaths).</summary>
        [Output]
        public ITaskItem[] WovenFiles { get; set; } = Array.Empty<ITaskItem>();

        /// <summary>The original items they replace (remove them from @(ReferenceCopyLocalPaths)).</summary>
        [Output]
        public ITaskItem[] ReplacedFiles { get; set; } = Array.Empty<ITaskItem>();

        /// <inheritdoc />
        public override bool Execute()
        {
            var woven = new List<ITaskItem>();
            var replaced = new List<ITaskItem>();
            var groups = Patchable.GroupBy(i => i.GetMetadata("Assembly").Trim(), StringComparer.OrdinalIgnoreCase);
            foreach (var group in groups)
            {
                var items = group.ToList();
                var name = group.Key;
                var original = FindCopyLocal(name);
                if (original == null)
                {
                    ReportNotFound(name, items[0]);
                    continue;
                }
                var input = original.GetMetadata("FullPath");
                var fileName = Path.GetFileName(input);
                var output = Path.Combine(Path.GetFullPath(OutputDirectory), fileName);
                var stampPath = output + ".hybrid-stamp";
                var stamp = Stamp(input, items);
                if (File.Exists(output) && File.Exists(stampPath) && File.ReadAllText(stampPath) == stamp)
                {
                    // Incremental: same input file, same selectors, same weaver => the woven copy is current.
                    Log.LogMessage(MessageImportance.Normal, "Hybrid: {0} is up to date; weaving skipped", fileName);
                }
                else
                {
                    TryDelete(stampPath);
                    var result = Weave(input, output, items, null, fileName);
                    if (result == null)
                    {
                        TryDelete(output);
                        continue;
                    }
                    if (!result.Success)
                        continue;
                    if (result.AlreadyWoven)
                        LogAt(items[0], null, Weaving.DiagnosticCodes.AlreadyWoven, false,
                            $"{fileName} was already woven by its own build, so the <Patchable Assembly=\"{name}\"> selectors here are ignored; move them to the <Patchable> items of the project that builds {fileName}");
                    Summarize(result, fileName);
                    File.WriteAllText(stampPath, stamp);
                }
                replaced.Add(original);
                woven.Add(CopyOf(original, output));
                var originalPdb = Sibling(original, ".pdb");
                var wovenPdb = Path.ChangeExtension(output, ".pdb");
                if (originalPdb != null)
                    replaced.Add(originalPdb);
                if (File.Exists(wovenPdb))
                    woven.Add(CopyOf(originalPdb ?? original, wovenPdb));
            }
            WovenFiles = woven.ToArray();
            ReplacedFiles = replaced.ToArray();
            return !Log.HasLoggedErrors;
        }

        ITaskItem? FindCopyLocal(string name)
            => ReferenceCopyLocalPaths
                .Where(i => IsAssembly(i) && string.Equals(i.GetMetadata("Filename"), name, StringComparison.OrdinalIgnoreCase))
                .OrderBy(i => i.GetMetadata("DestinationSubDirectory").Length) // prefer the copy that lands in bin/ itself
                .FirstOrDefault();

        ITaskItem? Sibling(ITaskItem assembly, string extension)
        {
            var path = Path.ChangeExtension(assembly.GetMetadata("FullPath"), extension);
            return ReferenceCopyLocalPaths.FirstOrDefault(i => string.Equals(i.GetMetadata("FullPath"), path, StringComparison.OrdinalIgnoreCase));
        }

        static bool IsAssembly(ITaskItem i)
        {
            var ext = i.GetMetadata("Extension");
            return string.Equals(ext, ".dll", StringComparison.OrdinalIgnoreCase) || string.Equals(ext, ".exe", StringComparison.OrdinalIgnoreCase);
        }

        static ITaskItem CopyOf(ITaskItem original, string path)
        {
            var item = new TaskItem(path);
            original.CopyMetadataTo(item);
            item.SetMetadata("HybridWovenFrom", original.GetMetadata("FullPath"));
            return item;
        }

        void ReportNotFound(string name, ITaskItem anchor)
        {
            var compiled = ReferencePath.FirstOrDefault(r => string.Equals(r.GetMetadata("Filename"), name, StringComparison.OrdinalIgnoreCase));
            if (compiled != null)
            {
                LogAt(anchor, null, AssemblyNotCopyLocal, true,
                    $"Patchable item '{anchor.ItemSpec}' names Assembly=\"{name}\", which this project compiles against ({compiled.ItemSpec}) but does not copy to its output "
                    + "(a framework assembly, or a reference with Private=\"false\"), so a woven copy cannot replace it. Framework assemblies cannot be woven; "
                    + "for a package or project reference remove Private=\"false\"/ExcludeAssets=\"runtime\", or weave it in the project that does copy it.");
                return;
            }
            var candidates = ReferenceCopyLocalPaths.Where(IsAssembly).Select(i => i.GetMetadata("Filename"))
                .Distinct(StringComparer.OrdinalIgnoreCase)
                .OrderBy(n => Distance(n.ToLowerInvariant(), name.ToLowerInvariant())).Take(3).ToList();
            var hint = candidates.Count > 0 ? " Closest copy-local references: " + string.Join(", ", candidates) + "." : " The project has no copy-local references.";
            LogAt(anchor, null, AssemblyNotReferenced, true,
                $"Patchable item '{anchor.ItemSpec}' names Assembly=\"{name}\", but no referenced assembly has that name.{hint} "
                + "Use the assembly's file name without '.dll' (not the package id), and make sure the project references it (PackageReference or ProjectReference).");
        }

        string Stamp(string input, IEnumerable<ITaskItem> items)
        {
            var info = new FileInfo(input);
            var text = new StringBuilder();
            text.AppendLine("task " + typeof(WeaveReferences).Assembly.GetName().Version + " weaver " + Weaving.Weaver.Version);
            text.AppendLine(info.FullName + "|" + info.Length + "|" + info.LastWriteTimeUtc.Ticks);
            text.AppendLine("strict " + TreatUnmatchedSelectorsAsErrors);
            foreach (var s in items.Select(i => i.ItemSpec.Trim()).OrderBy(s => s, StringComparer.Ordinal))
                text.AppendLine(s);
            return text.ToString();
        }

        static int Distance(string a, string b)
        {
            var d = new int[a.Length + 1, b.Length + 1];
            for (int i = 0; i <= a.Length; i++) d[i, 0] = i;
            for (int j = 0; j <= b.Length; j++) d[0, j] = j;
            for (int i = 1; i <= a.Length; i++)
                for (int j = 1; j <= b.Length; j++)
                    d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
            return d[a.Length, b.Length];
        }

        static void TryDelete(string path)
        {
            try { File.Delete(path); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }
}
