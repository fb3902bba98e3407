using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Runtime.Loader;
using Hybrid.Weaving;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

namespace Hybrid.Build
{
    /// <summary>
    /// Shared plumbing of the two weaving tasks: runs <see cref="Weaver"/>, turns its diagnostics into MSBuild
    /// errors/warnings that point at the &lt;Patchable&gt; item responsible, and applies the MSBuild-specific
    /// severity policy (e.g. a selector matching nothing is a warning unless the project asks for strictness).
    /// </summary>
    public abstract class WeaveTaskBase : Task
    {
        /// <summary>MSBuild-only diagnostic codes (the weaver's own are HYB00xx/HYB01xx, see docs/weaver.md).</summary>
        internal const string AssemblyNotReferenced = "HYB0201";
        internal const string AssemblyNotCopyLocal = "HYB0202";
        internal const string KeyFileUnreadable = "HYB0203";

        /// <summary>The &lt;Patchable&gt; items this task is responsible for.</summary>
        [Required]
        public ITaskItem[] Patchable { get; set; } = Array.Empty<ITaskItem>();

        /// <summary>Resolved references (@(ReferencePath)); their folders are where the weaver looks for dependencies.</summary>
        public ITaskItem[] ReferencePath { get; set; } = Array.Empty<ITaskItem>();

        /// <summary>When true, HYB0010 (a selector matched nothing) is an error; by default it is a warning and the rest is still woven.</summary>
        public bool TreatUnmatchedSelectorsAsErrors { get; set; }

        /// <summary>
        /// True for .NET (Core) targets: the runtime ignores strong-name signatures, so removing one (HYB0007)
        /// is not worth a warning there.
        /// </summary>
        public bool SignaturesIgnoredAtRunTime { get; set; }

        /// <summary>List every woven and skipped method at normal importance.</summary>
        public bool Verbose { get; set; }

        static bool loggedIsolation;

        /// <summary>
        /// Weaves <paramref name="input"/> with the selectors of <paramref name="items"/>. Returns the result of the
        /// run that was kept, or null when nothing was left to weave (every selector matched nothing).
        /// </summary>
        internal WeaveResult? Weave(string input, string? output, IReadOnlyList<ITaskItem> items, byte[]? key, string label)
        {
            LogIsolationOnce();
            var selectors = items.Select(i => i.ItemSpec.Trim()).Distinct(StringComparer.Ordinal).ToList();
            var dropped = new List<WeaverDiagnostic>();
            while (true)
            {
                var result = Weaving.Weaver.Weave(new WeaverOptions
                {
                    InputPath = input,
                    OutputPath = output,
                    Selectors = selectors,
                    StrongNameKeyBlob = key,
                    ReferenceSearchDirectories = ReferenceDirectories(),
                    // The compiler (own assembly) or NuGet (package assemblies) already resolved every reference,
                    // and weaving never loads them; a false "missing reference" must not break a build.
                    AllowMissingReferences = true,
                });
                var errors = result.Diagnostics.Where(d => d.Severity == DiagnosticSeverity.Error).ToList();
                bool onlyUnmatched = errors.Count > 0 && errors.All(d => d.Code == DiagnosticCodes.SelectorMatchedNothing && d.Member != null);
                if (result.Success || TreatUnmatchedSelectorsAsErrors || !onlyUnmatched)
                {
                    foreach (var d in dropped.Concat(result.Diagnostics))
                        Report(d, items, label);
                    return result;
                }
                // Policy: an unmatched selector is a warning in a build (a renamed method should not stop the
                // team's build); weave what the other selectors match. The weaver itself treats it as an error,
                // so run it again without the selectors that matched nothing.
                var unmatched = new HashSet<string>(errors.Select(e => e.Member!), StringComparer.Ordinal);
                dropped.AddRange(errors.Select(e => new WeaverDiagnostic(e.Code, DiagnosticSeverity.Warning,
                    e.Message + ". Fix the selector or remove the item (set HybridTreatUnmatchedSelectorsAsErrors=true to make this an error)", e.File, e.Member)));
                selectors.RemoveAll(unmatched.Contains);
                if (selectors.Count == 0)
                {
                    foreach (var d in dropped)
                        Report(d, items, label);
                    Log.LogMessage(MessageImportance.High, "Hybrid: no selector matched a method in {0}; nothing woven", label);
                    return null;
                }
            }
        }

        internal void Summarize(WeaveResult result, string label)
        {
            if (result.AlreadyWoven)
            {
                Log.LogMessage(MessageImportance.Low, "Hybrid: {0} is already woven; nothing to do", label);
                return;
            }
            var skipped = result.SkippedMethods.Count > 0 ? $", {result.SkippedMethods.Count} skipped" : "";
            // Formatted here: arguments passed through the .NET task host lose their format specifiers.
            Log.LogMessage(MessageImportance.High, string.Format(CultureInfo.InvariantCulture, "Hybrid: wove {0} method(s){1} in {2} in {3:0} ms",
                result.WovenMethods.Count, skipped, label, result.Elapsed.TotalMilliseconds));
            var importance = Verbose ? MessageImportance.High : MessageImportance.Low;
            foreach (var m in result.WovenMethods)
                Log.LogMessage(importance, "  woven:   {0}", m.Method);
            foreach (var m in result.SkippedMethods)
                Log.LogMessage(importance, "  skipped: {0} ({1}: {2})", m.Method, m.Code, m.Reason);
        }

        internal byte[]? ReadKey(string? keyFile, ITaskItem anchor)
        {
            if (string.IsNullOrEmpty(keyFile))
                return null;
            try
            {
                return File.ReadAllBytes(keyFile!);
            }
            catch (Exception e) when (e is IOException || e is UnauthorizedAccessException)
            {
                LogAt(anchor, null, KeyFileUnreadable, true,
                    $"cannot read the strong-name key '{keyFile}' needed to re-sign the woven assembly ({e.Message}); fix AssemblyOriginatorKeyFile or make the file readable");
                return null;
            }
        }

        List<string> ReferenceDirectories()
            => ReferencePath.Select(r => Path.GetDirectoryName(r.GetMetadata("FullPath")))
                .Where(d => !string.IsNullOrEmpty(d)).Select(d => d!).Distinct(StringComparer.Ordinal).ToList();

        void Report(WeaverDiagnostic d, IReadOnlyList<ITaskItem> items, string label)
        {
            // Anchor at the item whose selector the diagnostic is about, else at the first item for this assembly.
            var anchor = (d.Member != null ? items.FirstOrDefault(i => string.Equals(i.ItemSpec.Trim(), d.Member, StringComparison.Ordinal)) : null) ?? items[0];
            var message = d.Message.StartsWith(label, StringComparison.Ordinal) ? d.Message : label + ": " + d.Message;
            switch (d.Severity)
            {
                case DiagnosticSeverity.Error:
                    LogAt(anchor, d.Member, d.Code, true, message);
                    break;
                case DiagnosticSeverity.Warning when d.Code == DiagnosticCodes.MissingReference:
                    Log.LogMessage(MessageImportance.Low, "Hybrid: {0} ({1})", message, d.Code);
                    break;
                case DiagnosticSeverity.Warning when d.Code == DiagnosticCodes.SignatureRemoved && SignaturesIgnoredAtRunTime:
                    Log.LogMessage(MessageImportance.Low, "Hybrid: {0} ({1}; harmless on .NET, which ignores strong-name signatures)", message, d.Code);
                    break;
                case DiagnosticSeverity.Warning:
                    LogAt(anchor, d.Member, d.Code, false, message);
                    break;
                default:
                    Log.LogMessage(MessageImportance.Low, "Hybrid: {0} ({1})", message, d.Code);
                    break;
            }
        }

        /// <summary>Logs an error or warning located at the &lt;Patchable&gt; element in the project file that defined it.</summary>
        internal void LogAt(ITaskItem item, string? member, string code, bool error, string message)
        {
            var file = item.GetMetadata("HybridDefinedIn");
            if (string.IsNullOrEmpty(file))
                file = item.GetMetadata("DefiningProjectFullPath");
            var (line, column) = ItemLocator.Find(file, item.ItemSpec.Trim());
            if (line == 0 && BuildEngine?.ProjectFileOfTaskNode is { Length: > 0 } project)
            {
                // Not found where MSBuild says it was defined (e.g. built from a property): fall back to the project.
                file = project;
                (line, column) = ItemLocator.Find(file, item.ItemSpec.Trim());
            }
            if (error)
                Log.LogError(null, code, null, file, line, column, 0, 0, message);
            else
                Log.LogWarning(null, code, null, file, line, column, 0, 0, message);
        }

        void LogIsolationOnce()
        {
            if (loggedIsolation)
                return;
            loggedIsolation = true;
            // Evidence for docs/msbuild.md: our Mono.Cecil lives in this task's own load context, not in the default
            // one where another weaver (e.g. Fody) could have put a different Cecil.
            var cecil = typeof(Mono.Cecil.ModuleDefinition).Assembly;
            Log.LogMessage(MessageImportance.Low, "Hybrid: Mono.Cecil {0} from {1} in load context '{2}'; task in '{3}'",
                cecil.GetName().Version, cecil.Location, AssemblyLoadContext.GetLoadContext(cecil)?.Name,
                AssemblyLoadContext.GetLoadContext(typeof(WeaveTaskBase).Assembly)?.Name);
        }
    }

    /// <summary>Finds the line of a &lt;Patchable Include="..."&gt; element so diagnostics can point at it.</summary>
    internal static class ItemLocator
    {
        internal static (int line, int column) Find(string file, string selector)
        {
            try
            {
                if (string.IsNullOrEmpty(file) || !File.Exists(file))
                    return (0, 0);
                // The project spells the selector XML-escaped and with MSBuild escapes (%2A for '*', %3F for '?').
                var xml = System.Security.SecurityElement.Escape(selector) ?? selector;
                var spellings = new[] { xml, xml.Replace("*", "%2A").Replace("?", "%3F"), xml.Replace("*", "%2a").Replace("?", "%3f"), selector }
                    .Select(s => "\"" + s + "\"").Distinct().ToArray();
                var lines = File.ReadAllLines(file);
                for (int i = 0; i < lines.Length; i++)
                {
                    if (lines[i].IndexOf("Patchable", StringComparison.Ordinal) >= 0 && spellings.Any(s => lines[i].IndexOf(s, StringComparison.Ordinal) >= 0))
                        return (i + 1, lines[i].IndexOf("<", StringComparison.Ordinal) + 1);
                }
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }
            return (0, 0);
        }
    }
}
