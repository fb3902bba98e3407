using System;
using System.Linq;
using System.Reflection;
using System.Text;

namespace Hybrid.Testing.Internal;

/// <summary>How every Hybrid.Testing message names a method or type: <c>Ns.Type.Method(Int32, ref String)</c>.</summary>
internal static class Names
{
    public static string Describe(MethodBase method)
    {
        var sb = new StringBuilder();
        sb.Append(method.DeclaringType is null ? "<global>" : Type(method.DeclaringType)).Append('.').Append(method.Name);
        if (method.IsGenericMethod)
            sb.Append('<').Append(string.Join(", ", method.GetGenericArguments().Select(Type))).Append('>');
        sb.Append('(').Append(string.Join(", ", method.GetParameters().Select(p => Type(p.ParameterType)))).Append(')');
        return sb.ToString();
    }

    public static string Type(Type type)
    {
        if (type.IsByRef)
            return "ref " + Type(type.GetElementType()!);
        if (type.IsPointer)
            return Type(type.GetElementType()!) + "*";
        if (type.IsArray)
            return Type(type.GetElementType()!) + "[" + new string(',', type.GetArrayRank() - 1) + "]";
        if (type.IsGenericParameter)
            return type.Name;
        string name = type.IsNested ? Type(type.DeclaringType!) + "+" + type.Name : (type.Namespace is null ? type.Name : type.Namespace + "." + type.Name);
        int tick = name.LastIndexOf('`');
        if (tick >= 0 && type.IsGenericType)
        {
            var args = type.GetGenericArguments();
            if (type.IsNested && type.DeclaringType!.IsGenericType)
                args = args.Skip(type.DeclaringType.GetGenericArguments().Length).ToArray();
            name = name.Substring(0, tick) + "<" + string.Join(", ", args.Select(Type)) + ">";
        }
        return name;
    }
}
