using Hybrid.Compat;
using System;
using System.Diagnostics.CodeAnalysis;
using System.Linq;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Text;

namespace Hybrid.Targets;

/// <summary>Where shared generic code finds out which instantiation it is running for.</summary>
internal enum GenericContext
{
    /// <summary>The code serves exactly one instantiation (non-generic, or only value-type arguments).</summary>
    None,
    /// <summary>A hidden argument (MethodDesc for generic methods, MethodTable for static/struct members of generic types).</summary>
    HiddenArgument,
    /// <summary>The MethodTable of <c>this</c> (instance members of generic classes).</summary>
    ThisMethodTable,
}

/// <summary>
/// Everything the engine needs to know about an original method before touching code: what it is, whether it can be
/// redirected at all (with a message that names the method, the reason and the fix), the replacement signature it
/// expects, and how CoreCLR shares its code between generic instantiations.
/// </summary>
internal sealed class MethodTarget
{
    private static readonly Type? s_canon = Type.GetType("System.__Canon");

    private MethodTarget(MethodBase method)
    {
        Method = method;
        IsInstance = !method.IsStatic;
        DeclaringType = method.DeclaringType!;
        ReturnType = method is MethodInfo info ? info.ReturnType : typeof(void);
        ParameterTypes = method.GetParameters().Select(p => p.ParameterType).ToArray();
        InstanceType = IsInstance ? (DeclaringType.IsValueType ? DeclaringType.MakeByRefType() : DeclaringType) : null;
        ReplacementParameterTypes = InstanceType is null ? ParameterTypes : new[] { InstanceType }.Concat(ParameterTypes).ToArray();

        var typeArguments = DeclaringType.IsGenericType ? DeclaringType.GetGenericArguments() : Type.EmptyTypes;
        var methodArguments = method.IsGenericMethod ? method.GetGenericArguments() : Type.EmptyTypes;
        IsSharedCode = typeArguments.Concat(methodArguments).Any(t => !t.IsValueType);
        if (IsSharedCode)
        {
            if (method.IsGenericMethod)
                Context = GenericContext.HiddenArgument;
            else if (!IsInstance || DeclaringType.IsValueType)
                Context = GenericContext.HiddenArgument;
            else
                Context = GenericContext.ThisMethodTable;
        }
    }

    public MethodBase Method { get; }
    public Type DeclaringType { get; }
    public bool IsInstance { get; }
    public Type? InstanceType { get; }
    public Type ReturnType { get; }
    public Type[] ParameterTypes { get; }

    /// <summary>The parameters a replacement must take: the instance first (by ref for structs), then the original's.</summary>
    public Type[] ReplacementParameterTypes { get; }

    /// <summary>True when CoreCLR compiles one body for several instantiations (any reference-type generic argument).</summary>
    public bool IsSharedCode { get; }

    public GenericContext Context { get; }

    /// <summary>The value the shared body receives (hidden argument or <c>this</c>'s MethodTable) for exactly this instantiation.</summary>
    public nint ContextKey => Context switch
    {
        GenericContext.HiddenArgument when Method.IsGenericMethod => Method.MethodHandle.Value,
        GenericContext.HiddenArgument or GenericContext.ThisMethodTable => DeclaringType.TypeHandle.Value,
        _ => 0,
    };

    /// <summary>The method whose compiled code actually runs: the <c>__Canon</c> form for shared generic code.</summary>
    [UnconditionalSuppressMessage("AOT", "IL3050", Justification = Os.AotJustifications.NativeOnly)]
    [UnconditionalSuppressMessage("Trimming", "IL2055", Justification = Os.AotJustifications.NativeOnly)]
    [UnconditionalSuppressMessage("Trimming", "IL2060", Justification = Os.AotJustifications.NativeOnly)]
    public MethodBase CodeOwner
    {
        get
        {
            if (!IsSharedCode || s_canon is null)
                return Method;
            static Type Canonical(Type t) => t.IsValueType ? t : s_canon!;
            var type = DeclaringType;
            if (type.IsGenericType)
                type = type.GetGenericTypeDefinition().MakeGenericType(type.GetGenericArguments().Select(Canonical).ToArray());
            var member = (MethodBase)Host.SameDefinitionIn(type, Method);
            if (Method.IsGenericMethod)
                member = ((MethodInfo)member).GetGenericMethodDefinition().MakeGenericMethod(Method.GetGenericArguments().Select(Canonical).ToArray());
            return member;
        }
    }

    public static MethodTarget Analyze(MethodBase method, string parameterName)
    {
        Host.ThrowIfNull(method, parameterName);
        string name = Describe(method);
        if (method.DeclaringType is null)
            throw new ArgumentException($"{name} is a global or dynamic method; Hybrid redirects methods declared in a type. Fix: redirect the method that calls it.", parameterName);
        if (method.GetType().FullName?.Contains("DynamicMethod", StringComparison.Ordinal) == true || method.DeclaringType.Assembly.IsDynamic)
            throw new ArgumentException($"{name} was emitted at run time (Reflection.Emit); Hybrid redirects compiled methods only. Fix: redirect the compiled method that creates or calls it.", parameterName);
        if (method.ContainsGenericParameters)
            throw new ArgumentException($"{name} is an open generic definition; only one closed instantiation can be redirected. Fix: close it first, e.g. typeof(Cache<>).MakeGenericType(typeof(int)) or method.MakeGenericMethod(typeof(string)).", parameterName);
        if (method is ConstructorInfo && method.IsStatic)
            throw new ArgumentException($"{name} is a static constructor; the runtime runs it once, under its own lock, so it cannot be redirected. Fix: redirect the static members that read what it initialises.", parameterName);
        if (method.DeclaringType.IsInterface && method.IsAbstract)
            throw new ArgumentException($"{name} is declared by interface {method.DeclaringType.FullName} and has no body. Fix: redirect the implementing method, e.g. typeof(MyImpl).GetMethod(\"{method.Name}\").", parameterName);
        if (method.IsAbstract)
            throw new ArgumentException($"{name} is abstract and has no body. Fix: redirect the override that runs instead (the derived class's method).", parameterName);
        var impl = method.MethodImplementationFlags;
        if ((impl & MethodImplAttributes.InternalCall) != 0 || (method.Attributes & MethodAttributes.PinvokeImpl) != 0 || (impl & MethodImplAttributes.CodeTypeMask) != MethodImplAttributes.IL)
            throw new ArgumentException($"{name} is extern (implemented by the runtime or native code) and has no IL body. Fix: redirect the managed method that calls it.", parameterName);
        if (method.CallingConvention.HasFlag(CallingConventions.VarArgs))
            throw new ArgumentException($"{name} uses the varargs calling convention, which Hybrid does not support. Fix: redirect a non-varargs caller.", parameterName);
        return new MethodTarget(method);
    }

    /// <summary>Ensures the method has compiled code (no-op when it already has).</summary>
    public void Prepare()
    {
        var owner = CodeOwner;
        // CoreCLR 10 creates a method's temporary entry point lazily, and PrepareMethod compiles nothing for a
        // virtual method that has none yet (MethodDesc::IsPointingToPrestub answers false for a vtable-backpatched
        // method whose slot is still empty): asking for the entry point first makes it compile, and fill the slots.
        owner.MethodHandle.GetFunctionPointer();
        var instantiation = (owner.DeclaringType!.IsGenericType ? owner.DeclaringType.GetGenericArguments() : Type.EmptyTypes)
            .Concat(owner.IsGenericMethod ? owner.GetGenericArguments() : Type.EmptyTypes)
            .Select(t => t.TypeHandle).ToArray();
        if (instantiation.Length == 0)
            RuntimeHelpers.PrepareMethod(owner.MethodHandle);
        else
            RuntimeHelpers.PrepareMethod(owner.MethodHandle, instantiation);
    }

    /// <summary><c>Ns.Type.Method(Int32, String&amp;)</c>: how every message names a method.</summary>
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

    /// <summary><c>static Int32 (Program this, Int32)</c>: the shape a replacement must have.</summary>
    public string ExpectedReplacementShape =>
        $"static {TypeName(ReturnType)} ({string.Join(", ", ReplacementParameterTypes.Select(TypeName))})";
}
