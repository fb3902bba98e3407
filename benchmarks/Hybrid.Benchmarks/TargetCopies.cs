using System;
using System.IO;
using System.Linq;
using System.Reflection;
using System.Runtime.Loader;
using Hybrid.Benchmarks.Targets;
using Hybrid.Weaving;

namespace Hybrid.Benchmarks
{
    /// <summary>
    /// Copies of Hybrid.Benchmarks.Targets.dll next to the normally referenced one: a woven copy (made at start-up with
    /// the Weaver library, not at build time) and fresh unwoven copies whose methods were never compiled or hooked.
    /// Each copy lives in its own (non-collectible) AssemblyLoadContext; the core library comes from the default one,
    /// so <c>int</c>, delegates etc. are shared and replacements from the default context fit the copies' methods.
    /// </summary>
    internal static class TargetCopies
    {
        /// <summary>The methods the weaver is given (everything else in the woven copy stays as it was).</summary>
        public static readonly string[] WovenSelectors =
        {
            "Hybrid.Benchmarks.Targets.Calls.Add",
            "Hybrid.Benchmarks.Targets.Calls.AddOpt",
            "Hybrid.Benchmarks.Targets.Calls.GuardStatic",
            "Hybrid.Benchmarks.Targets.Calls.GuardClosure",
            "Hybrid.Benchmarks.Targets.Calls.GuardPair",
        };

        static int s_contexts;
        static Assembly? s_woven;

        public static string TargetsPath => typeof(Calls).Assembly.Location;

        sealed class CopyContext : AssemblyLoadContext
        {
            public CopyContext(string name) : base(name, isCollectible: false) { }
            protected override Assembly? Load(AssemblyName assemblyName) => null; // everything else from the default context
        }

        /// <summary>A new, never-executed copy of the targets assembly.</summary>
        public static Assembly LoadFresh() =>
            new CopyContext("hybrid-bench-copy-" + ++s_contexts).LoadFromAssemblyPath(TargetsPath);

        /// <summary>The woven copy (woven into a temporary directory once per process).</summary>
        public static Assembly Woven()
        {
            if (s_woven is not null)
                return s_woven;
            var dir = Path.Combine(Path.GetTempPath(), "hybrid-bench-woven-" + Guid.NewGuid().ToString("N"));
            Directory.CreateDirectory(dir);
            var output = Path.Combine(dir, Path.GetFileName(TargetsPath));
            var result = Weaver.Weave(new WeaverOptions { InputPath = TargetsPath, OutputPath = output, Selectors = WovenSelectors.ToList() });
            if (!result.Success || result.WovenMethods.Count != WovenSelectors.Length)
                throw new InvalidOperationException("Weaving the benchmark targets failed:" + Environment.NewLine + string.Join(Environment.NewLine, result.Diagnostics));
            // Loaded from bytes, so the temporary directory can go right away.
            var context = new CopyContext("hybrid-bench-woven");
            using (var stream = new MemoryStream(File.ReadAllBytes(output)))
                s_woven = context.LoadFromStream(stream);
            Directory.Delete(dir, recursive: true);
            return s_woven;
        }

        /// <summary>
        /// Redirects a woven method through its IL guard with the engine (<see cref="Engine.ForcedStrategy"/> pinned to
        /// <see cref="RedirectStrategy.ILDispatch"/> for this call only; by default the engine prefers a native jump).
        /// </summary>
        public static Redirection RedirectThroughGuard(MethodInfo woven, object replacement)
        {
            var previous = Engine.ForcedStrategy;
            Engine.ForcedStrategy = RedirectStrategy.ILDispatch;
            try
            {
                var redirection = replacement is MethodInfo method ? Engine.Redirect(woven, method) : Engine.Redirect(woven, (Delegate)replacement);
                if (redirection.Strategy != RedirectStrategy.ILDispatch)
                    throw new InvalidOperationException($"{woven.Name} was redirected with {redirection.Strategy}, not through its IL guard");
                return redirection;
            }
            finally
            {
                Engine.ForcedStrategy = previous;
            }
        }

        public static MethodInfo Method(Assembly assembly, string type, string name) =>
            assembly.GetType("Hybrid.Benchmarks.Targets." + type, throwOnError: true)!.GetMethod(name)
            ?? throw new MissingMethodException(type, name);
    }
}
