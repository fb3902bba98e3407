using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Reflection;
using System.Text;

namespace Hybrid.Differential;

/// <summary>One method the lane tries to redirect.</summary>
internal sealed record Candidate(Assembly Assembly, MethodBase Method, string Name)
{
    /// <summary>Identifies the method across processes (bisect children rebuild the catalog and pick by this key).</summary>
    public string Key => $"{Assembly.GetName().Name} 0x{Method.MetadataToken:X8}";
}

/// <summary>A method the lane does not try to redirect, and why.</summary>
internal sealed record Skipped(string Name, string Reason);

/// <summary>Every method with a body in the chosen libraries, in metadata order, plus the ones left out with reasons.</summary>
internal sealed class MethodCatalog
{
    private const BindingFlags Declared = BindingFlags.DeclaredOnly | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static;

    public List<Assembly> Assemblies { get; } = new();
    public List<Candidate> Candidates { get; } = new();
    public List<Skipped> Skipped { get; } = new();

    /// <summary>Methods that matched the libraries but were left out by --only/--skip/--set (not a skip reason of their own).</summary>
    public int FilteredOut { get; private set; }

    public static Assembly Load(string nameOrPath) =>
        nameOrPath.EndsWith(".dll", StringComparison.OrdinalIgnoreCase) || nameOrPath.Contains(Path.DirectorySeparatorChar)
            ? Assembly.LoadFrom(Path.GetFullPath(nameOrPath))
            : Assembly.Load(new AssemblyName(nameOrPath));

    public static MethodCatalog Build(Options options)
    {
        var catalog = new MethodCatalog();
        HashSet<string>? set = options.SetPath is null
            ? null
            : new HashSet<string>(File.ReadAllLines(options.SetPath).Select(l => l.Trim()).Where(l => l.Length > 0), StringComparer.Ordinal);
        foreach (var spec in options.Assemblies)
        {
            var assembly = Load(spec);
            catalog.Assemblies.Add(assembly);
            foreach (var method in MethodsOf(assembly))
            {
                string name = Describe(method);
                string? reason = SkipReason(method);
                if (reason is not null)
                {
                    catalog.Skipped.Add(new Skipped(name, reason));
                    continue;
                }
                var candidate = new Candidate(assembly, method, name);
                bool chosen = (options.Only is null || options.Only.IsMatch(name))
                    && (options.Skip is null || !options.Skip.IsMatch(name))
                    && (set is null || set.Contains(candidate.Key));
                if (chosen)
                    catalog.Candidates.Add(candidate);
                else
                    catalog.FilteredOut++;
            }
        }
        return catalog;
    }

    private static IEnumerable<MethodBase> MethodsOf(Assembly assembly)
    {
        Type[] types;
        try
        {
            types = assembly.GetTypes();
        }
        catch (ReflectionTypeLoadException e)
        {
            // A library may reference an optional dependency that is absent; its other types are still worth covering.
            types = e.Types.Where(t => t is not null).ToArray()!;
        }
        // Metadata order makes the list, and so --set keys and bisect halves, the same in every process.
        foreach (var type in types.OrderBy(t => t.MetadataToken))
        {
            var members = type.GetConstructors(Declared).Cast<MethodBase>().Concat(type.GetMethods(Declared));
            foreach (var method in members.OrderBy(m => m.MetadataToken))
                yield return method;
        }
    }

    private static string? SkipReason(MethodBase method)
    {
        var type = method.DeclaringType!;
        if (type.ContainsGenericParameters)
            return "method of an open generic type (no instantiation chosen)";
        if (method.IsGenericMethodDefinition)
            return "open generic method (no instantiation chosen)";
        if (method.IsAbstract)
            return "abstract (no body)";
        if (method is ConstructorInfo && method.IsStatic)
            return "static constructor (the runtime runs it once)";
        var impl = method.MethodImplementationFlags;
        if ((impl & MethodImplAttributes.CodeTypeMask) == MethodImplAttributes.Runtime)
            return "runtime-implemented (delegate members)";
        if ((impl & MethodImplAttributes.InternalCall) != 0 || (method.Attributes & MethodAttributes.PinvokeImpl) != 0
            || (impl & MethodImplAttributes.CodeTypeMask) != MethodImplAttributes.IL)
            return "extern (no IL body)";
        if (method.GetMethodBody() is null)
            return "no IL body";
        return null;
    }

    /// <summary><c>Ns.Type+Nested.Method(Int32, ref String)</c>: the engine's own way of naming methods, so that names in
    /// refusal messages can be folded away when refusals are grouped.</summary>
    public static string Describe(MethodBase method)
    {
        var sb = new StringBuilder();
        sb.Append(method.DeclaringType is null ? "<global>" : TypeName(method.DeclaringType)).Append('.').Append(method.Name);
        if (method.IsGenericMethod)
            sb.Append('<').Append(string.Join(", ", method.GetGenericArguments().Select(TypeName))).Append('>');
        sb.Append('(').Append(string.Join(", ", method.GetParameters().Select(p => TypeName(p.ParameterType)))).Append(')');
        return sb.ToString();
    }

    public static string TypeName(Type type)
    {
        if (type.IsByRef)
            return "ref " + TypeName(type.GetElementType()!);
        if (type.IsPointer)
            return TypeName(type.GetElementType()!) + "*";
        if (type.IsArray)
            return TypeName(type.GetElementType()!) + "[" + new string(',', type.GetArrayRank() - 1) + "]";
        if (type.IsGenericParameter)
            return type.Name;
        string name = type.IsNested ? TypeName(type.DeclaringType!) + "+" + type.Name : (type.Namespace is null ? type.Name : type.Namespace + "." + type.Name);
        int tick = name.LastIndexOf('`');
        if (tick >= 0 && type.IsGenericType)
        {
            var args = type.GetGenericArguments();
            if (type.IsNested && type.DeclaringType!.IsGenericType)
                args = args.Skip(type.DeclaringType.GetGenericArguments().Length).ToArray();
            name = name.Substring(0, tick) + "<" + string.Join(", ", args.Select(TypeName)) + ">";
        }
        return name;
    }
}
