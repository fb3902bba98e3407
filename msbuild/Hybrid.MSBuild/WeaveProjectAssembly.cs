using System;
using System.IO;
using System.Linq;
using Microsoft.Build.Framework;

namespace Hybrid.Build
{
    /// <summary>
    /// Weaves the project's own intermediate assembly (obj/.../X.dll) in place, right after the compiler wrote it
    /// and before it is copied to bin/. Runs only when the compiler ran (TargetsTriggeredByCompilation), so an
    /// up-to-date build does no work and never meets an already-woven file.
    /// </summary>
    public sealed class WeaveProjectAssembly : WeaveTaskBase
    {
        /// <summary>@(IntermediateAssembly): the compiler's output in obj/.</summary>
        [Required]
        public string IntermediateAssembly { get; set; } = "";

        /// <summary>Strong-name key pair to re-sign with (empty when the project is not signed with a full key).</summary>
        public string? KeyFile { get; set; }

        /// <inheritdoc />
        public override bool Execute()
        {
            var items = Patchable.ToList();
            if (items.Count == 0)
                return true;
            var label = Path.GetFileName(IntermediateAssembly);
            var key = ReadKey(KeyFile, items[0]);
            if (Log.HasLoggedErrors)
                return false;
            var result = Weave(IntermediateAssembly, null, items, key, label);
            if (result != null && result.Success)
                Summarize(result, label);
            if (Log.HasLoggedErrors)
            {
                // The build fails now, but the next build would find CoreCompile up to date and ship the un-woven
                // assembly without a word. Make the compiler's output look stale so the next build compiles and
                // weaves again.
                TryMarkStale(IntermediateAssembly);
                return false;
            }
            return true;
        }

        static void TryMarkStale(string path)
        {
            try
            {
                if (File.Exists(path))
                    File.SetLastWriteTimeUtc(path, new DateTime(2000, 1, 1, 0, 0, 0, DateTimeKind.Utc));
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }
        }
    }
}
