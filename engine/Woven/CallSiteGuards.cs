using System;
using System.Collections.Generic;
using System.Diagnostics.CodeAnalysis;
using System.Linq;
using System.Reflection;
using System.Threading;
#if NET
using System.Runtime.Loader;
#endif

namespace Hybrid.Woven;

/// <summary>
/// Call-site guards (docs/weaver.md, "Call-site guards"): for a method that cannot be woven — a framework method —
/// the weaver routes the calls written in a woven assembly through a wrapper with its own slot. The engine finds those
/// slots by scanning assemblies (never types) for <c>HybridCallSitesAttribute</c> and matching each guard's identity
/// (declaring type, name, generic arity, canonical signature), cached per assembly.
/// </summary>
internal static class CallSiteGuards
{
    private const string HolderAttribute = "Hybrid.Woven.HybridCallSitesAttribute";
    private const string IdentityAttribute = "Hybrid.Woven.HybridCallSiteAttribute";

    private readonly record struct Identity(Type DeclaringType, string Name, int Arity, string Signature);

    private static readonly Dictionary<Assembly, Dictionary<Identity, List<Type>>> s_byAssembly = new();

    /// <summary>The <c>Target</c> slots of every call-site guard for this exact instantiation of <paramref name="method"/>. Caller holds the engine lock.</summary>
    public static List<FieldInfo> SlotsFor(MethodBase method)
    {
        // Every native redirect asks (a native redirect fills call-site guards too), so the answer is kept until an
        // assembly is loaded: only a new assembly can bring new call sites.
        EnsureWatchingLoads();
        int generation = Volatile.Read(ref s_generation);
        if (s_slots.TryGetValue(method, out var known) && known.Generation == generation)
            return known.Slots;
        // Most methods have no call-site guard anywhere: the names index answers that without building the method's
        // canonical signature or visiting every loaded assembly (a first redirect paid ~20 µs for it).
        var found = GuardedNames(generation).Contains(method.Name) ? Find(method) : new List<FieldInfo>();
        s_slots[method] = (generation, found);
        return found;
    }

    private static int s_generation;
    private static bool s_watching;
    private static readonly Dictionary<MethodBase, (int Generation, List<FieldInfo> Slots)> s_slots = new();

    private static int s_namesGeneration = -1;
    private static HashSet<string> s_guardedNames = new(StringComparer.Ordinal);

    /// <summary>The names of the methods that have call-site guards in some loaded assembly, as of <paramref name="generation"/>.</summary>
    private static HashSet<string> GuardedNames(int generation)
    {
        if (s_namesGeneration != generation)
        {
            var names = new HashSet<string>(StringComparer.Ordinal);
            foreach (var assembly in LoadedAssemblies())
                foreach (var identity in Guards(assembly).Keys)
                    names.Add(identity.Name);
            s_guardedNames = names;
            s_namesGeneration = generation;
        }
        return s_guardedNames;
    }

    private static void EnsureWatchingLoads()
    {
        if (s_watching)
            return;
        s_watching = true;
        AppDomain.CurrentDomain.AssemblyLoad += (_, e) =>
        {
            Interlocked.Increment(ref s_generation);
            // Raised on the loading thread before any code of the assembly runs: live redirects fill its call-site
            // guards now, or its calls would run the original while a redirect (a fake) is live — a plugin loaded
            // from outside the application's folder, or any assembly loaded after the redirect.
            if (CarriesCallSites(e.LoadedAssembly))
                ILGuards.RefreshLive();
        };
    }

    private static bool CarriesCallSites(Assembly assembly)
    {
        try
        {
            return assembly.GetCustomAttributesData().Any(a => a.AttributeType.FullName == HolderAttribute);
        }
        catch (Exception e) when (e is System.IO.FileNotFoundException or System.IO.FileLoadException or TypeLoadException or BadImageFormatException or NotSupportedException)
        {
            return false;
        }
    }

    [UnconditionalSuppressMessage("Trimming", "IL2026", Justification = "Woven holders are referenced by the woven code that calls them.")]
    [UnconditionalSuppressMessage("Trimming", "IL2070", Justification = "As above.")]
    [UnconditionalSuppressMessage("Trimming", "IL2075", Justification = "As above.")]
    [UnconditionalSuppressMessage("AOT", "IL3050", Justification = "Closed guard instantiations exist wherever the woven call site that uses them was compiled.")]
    [UnconditionalSuppressMessage("AOT", "IL2055", Justification = "As above.")]
    private static List<FieldInfo> Find(MethodBase method)
    {
        var slots = new List<FieldInfo>();
        var definition = OpenDefinition(method);
        var declaring = definition.DeclaringType!;
        if (declaring.IsGenericType)
            declaring = declaring.GetGenericTypeDefinition();
        int arity = definition.IsGenericMethodDefinition ? definition.GetGenericArguments().Length : 0;
        string signature = Canonical(definition is MethodInfo info ? info.ReturnType : typeof(void)) +
            "(" + string.Join(",", definition.GetParameters().Select(p => Canonical(p.ParameterType))) + ")";
        var key = new Identity(declaring, definition.Name, arity, signature);
        var arguments = (method.DeclaringType!.IsGenericType ? method.DeclaringType.GetGenericArguments() : Type.EmptyTypes)
            .Concat(method.IsGenericMethod ? method.GetGenericArguments() : Type.EmptyTypes).ToArray();

        foreach (var assembly in LoadedAssemblies())
        {
            if (!Guards(assembly).TryGetValue(key, out var guards))
                continue;
            foreach (var guard in guards)
            {
                var closed = guard.IsGenericTypeDefinition ? guard.MakeGenericType(arguments) : guard;
                if (closed.GetField("Target", BindingFlags.Public | BindingFlags.Static) is { } slot)
                    slots.Add(slot);
            }
        }
        return slots;
    }

    /// <summary>
    /// The open definition whose signature the weaver recorded. Without resolving metadata tokens, which NativeAOT
    /// does not keep: a generic method's definition, and the same member on a generic type's definition.
    /// </summary>
    [UnconditionalSuppressMessage("Trimming", "IL2075", Justification = "Only types whose methods are already reflected on reach here.")]
    private static MethodBase OpenDefinition(MethodBase method)
    {
        var definition = method is MethodInfo { IsGenericMethod: true } generic ? generic.GetGenericMethodDefinition() : method;
        var declaring = definition.DeclaringType!;
        if (!declaring.IsGenericType || declaring.IsGenericTypeDefinition)
            return definition;
        try
        {
            return (MethodBase)Compat.Host.SameDefinitionIn(declaring.GetGenericTypeDefinition(), definition);
        }
        catch (Exception e) when (e is InvalidOperationException or NotSupportedException or ArgumentException)
        {
            return definition;
        }
    }

    [UnconditionalSuppressMessage("Trimming", "IL2070", Justification = "Woven holders are referenced by the woven code that calls them.")]
    [UnconditionalSuppressMessage("Trimming", "IL2075", Justification = "Woven holders are referenced by the woven code that calls them.")]
    private static Dictionary<Identity, List<Type>> Guards(Assembly assembly)
    {
        if (s_byAssembly.TryGetValue(assembly, out var known))
            return known;
        var guards = new Dictionary<Identity, List<Type>>();
        try
        {
            foreach (var holder in assembly.GetCustomAttributesData().Where(a => a.AttributeType.FullName == HolderAttribute))
            {
                var holderType = (Type)holder.ConstructorArguments[0].Value!;
                foreach (var guard in holderType.GetNestedTypes(BindingFlags.Public | BindingFlags.NonPublic))
                {
                    var id = guard.GetCustomAttributesData().FirstOrDefault(a => a.AttributeType.FullName == IdentityAttribute);
                    if (id is null)
                        continue;
                    var args = id.ConstructorArguments;
                    var identity = new Identity((Type)args[0].Value!, (string)args[1].Value!, (int)args[2].Value!, (string)args[3].Value!);
                    if (!guards.TryGetValue(identity, out var list))
                        guards[identity] = list = new List<Type>();
                    list.Add(guard);
                }
            }
        }
        catch (Exception e) when (e is System.IO.FileNotFoundException or System.IO.FileLoadException or TypeLoadException or BadImageFormatException)
        {
            // An assembly whose dependencies cannot be loaded has no call sites we could serve.
        }
        s_byAssembly[assembly] = guards;
        return guards;
    }

    /// <summary>The weaver's canonical type spelling (docs/weaver.md, call-site contract, item 5).</summary>
    private static string Canonical(Type t) =>
        t.IsByRef ? Canonical(t.GetElementType()!) + "&" :
        t.IsPointer ? Canonical(t.GetElementType()!) + "*" :
        t.IsArray ? Canonical(t.GetElementType()!) + "[" + new string(',', t.GetArrayRank() - 1) + "]" :
        t.IsGenericParameter ? (t.DeclaringMethod is not null ? "!!" : "!") + t.GenericParameterPosition :
#if NET
        t.IsFunctionPointer ? "fnptr" :
#endif
        t.IsGenericType ? Name(t.GetGenericTypeDefinition()) + "<" + string.Join(",", t.GetGenericArguments().Select(Canonical)) + ">" :
        Name(t);

    private static string Name(Type t) =>
        t.IsNested ? Name(t.DeclaringType!) + "+" + t.Name : string.IsNullOrEmpty(t.Namespace) ? t.Name : t.Namespace + "." + t.Name;

    // Every load context on .NET (plugins and collectible contexts included); one AppDomain on Mono and .NET Framework.
#if NET
    private static bool s_scannedAppDirectory;
#endif

    /// <summary>
    /// Loads the assemblies in the application's folder that carry call-site guards and are not loaded yet; true when it
    /// loaded any. Why: an assembly is loaded when code first needs it, so a redirect made before the code under test
    /// ran (a test's first line) would not find the call-site guards woven into that code, and whether a fake works on
    /// the IL path would depend on test order. Each file is read as metadata (no load) for the weaver's assembly
    /// attribute; only woven ones are loaded, into the default context by name, as the application itself would load
    /// them. Once per process: the folder does not change. Caller holds the engine lock.
    /// </summary>
    public static bool LoadWovenFromAppDirectory()
    {
#if NET
        if (s_scannedAppDirectory || !System.Runtime.CompilerServices.RuntimeFeature.IsDynamicCodeSupported)
            return false; // NativeAOT: every assembly there is already part of the program
        s_scannedAppDirectory = true;
        var loaded = new HashSet<string>(LoadedAssemblies().Select(a => a.GetName().Name ?? ""), StringComparer.OrdinalIgnoreCase);
        bool any = false;
        string[] files;
        try
        {
            files = System.IO.Directory.GetFiles(AppContext.BaseDirectory, "*.dll");
        }
        catch (Exception e) when (e is System.IO.IOException or UnauthorizedAccessException)
        {
            return false;
        }
        foreach (var path in files)
        {
            if (loaded.Contains(System.IO.Path.GetFileNameWithoutExtension(path)) || !HasCallSiteGuards(path))
                continue;
            try
            {
                AssemblyLoadContext.Default.LoadFromAssemblyName(AssemblyName.GetAssemblyName(path));
                any = true;
            }
            catch (Exception e) when (e is System.IO.FileNotFoundException or System.IO.FileLoadException or BadImageFormatException)
            {
                // Not loadable in this application (another framework's build, a missing dependency): no call sites to serve.
            }
        }
        return any;
#else
        return false;
#endif
    }

#if NET
    /// <summary>True when the file's assembly attributes include the weaver's <c>Hybrid.Woven.HybridCallSitesAttribute</c>.</summary>
    private static bool HasCallSiteGuards(string path)
    {
        try
        {
            using var stream = System.IO.File.OpenRead(path);
            using var pe = new System.Reflection.PortableExecutable.PEReader(stream);
            if (!pe.HasMetadata)
                return false;
            var metadata = System.Reflection.Metadata.PEReaderExtensions.GetMetadataReader(pe);
            if (!metadata.IsAssembly)
                return false;
            foreach (var handle in metadata.GetAssemblyDefinition().GetCustomAttributes())
            {
                var constructor = metadata.GetCustomAttribute(handle).Constructor;
                if (constructor.Kind != System.Reflection.Metadata.HandleKind.MethodDefinition)
                    continue; // the weaver defines the attribute in the woven assembly itself
                var type = metadata.GetTypeDefinition(metadata.GetMethodDefinition((System.Reflection.Metadata.MethodDefinitionHandle)constructor).GetDeclaringType());
                if (metadata.StringComparer.Equals(type.Namespace, "Hybrid.Woven") && metadata.StringComparer.Equals(type.Name, "HybridCallSitesAttribute"))
                    return true;
            }
        }
        catch (Exception e) when (e is BadImageFormatException or System.IO.IOException or UnauthorizedAccessException or InvalidOperationException)
        {
        }
        return false;
    }
#endif

    private static IEnumerable<Assembly> LoadedAssemblies() =>
#if NET
        AssemblyLoadContext.All.SelectMany(c => c.Assemblies).Distinct();
#else
        AppDomain.CurrentDomain.GetAssemblies();
#endif
}
