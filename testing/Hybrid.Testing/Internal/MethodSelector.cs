using System;
using System.Linq;
using System.Linq.Expressions;
using System.Reflection;

namespace Hybrid.Testing.Internal;

/// <summary>Turns a selector lambda such as <c>(Invoice i) =&gt; i.Total()</c> into the method to fake and, optionally, the one instance.</summary>
internal static class MethodSelector
{
    public readonly record struct Selection(MethodBase Method, object? Instance);

    public static Selection Select(LambdaExpression selector)
    {
        ArgumentNullException.ThrowIfNull(selector);
        var body = Strip(selector.Body);
        MethodBase? method;
        Expression? receiver;
        switch (body)
        {
            case MethodCallExpression call:
                method = call.Method;
                receiver = call.Object;
                break;
            case MemberExpression { Member: PropertyInfo property } member:
                method = property.GetGetMethod(nonPublic: true)
                    ?? throw new ArgumentException($"The selector {selector} reads property {Names.Type(property.DeclaringType!)}.{property.Name}, which has no getter.", nameof(selector));
                receiver = member.Expression;
                break;
            case NewExpression { Constructor: not null } creation:
                method = creation.Constructor;
                receiver = null;
                break;
            case MemberExpression { Member: FieldInfo field }:
                throw new ArgumentException($"The selector {selector} reads the field {Names.Type(field.DeclaringType!)}.{field.Name}; fields are data, not code, and cannot be faked. Fix: fake the method or property that reads or computes the value.", nameof(selector));
            default:
                throw new ArgumentException($"The selector {selector} is not a method call, a property read or a constructor call ({body.NodeType}). Fix: write just the call, e.g. () => DateTime.UtcNow, (Invoice i) => i.Total() or () => File.ReadAllText(Arg.Any<string>()).", nameof(selector));
        }

        receiver = receiver is null ? null : Strip(receiver);
        if (receiver is null)
            return new Selection(method, null);
        if (receiver is ParameterExpression parameter && selector.Parameters.Contains(parameter))
            return new Selection(MostDerived(method, parameter.Type), null);

        // () => invoiceA.Total(): the receiver is a captured value, so the fake applies to that instance only.
        object? instance = Evaluate(receiver);
        if (instance is null)
            throw new ArgumentException($"The selector {selector} calls {Names.Describe(method)} on {receiver}, which is null. Fix: pass the instance to fake, or select every instance with ({Names.Type(method.DeclaringType!)} x) => x.{method.Name}(...).", nameof(selector));
        if (instance.GetType().IsValueType)
            throw new ArgumentException($"The selector {selector} calls {Names.Describe(method)} on a {Names.Type(instance.GetType())} value; struct values are copies and cannot be faked one by one. Fix: select every instance with ({Names.Type(instance.GetType())} x) => x.{method.Name}(...).", nameof(selector));
        return new Selection(MostDerived(method, instance.GetType()), instance);
    }

    private static Expression Strip(Expression expression)
    {
        while (expression is UnaryExpression { NodeType: ExpressionType.Convert or ExpressionType.ConvertChecked or ExpressionType.TypeAs } unary
               && unary.Method is null)
            expression = unary.Operand;
        return expression;
    }

    private static object? Evaluate(Expression expression)
    {
        // Captured locals are fields of a closure constant: read them directly instead of compiling a lambda.
        if (expression is ConstantExpression constant)
            return constant.Value;
        if (expression is MemberExpression { Member: FieldInfo field } member)
        {
            object? target = member.Expression is null ? null : Evaluate(member.Expression);
            return field.GetValue(target);
        }
        return Expression.Lambda<Func<object?>>(Expression.Convert(expression, typeof(object))).Compile(preferInterpretation: true)();
    }

    /// <summary>
    /// The body that actually runs for <paramref name="receiverType"/>: an expression names the method the compiler
    /// bound (a base virtual or an interface method), but the code to redirect is the override or implementation.
    /// </summary>
    private static MethodBase MostDerived(MethodBase method, Type receiverType)
    {
        if (method is not MethodInfo info || !info.IsVirtual || receiverType.IsInterface)
            return method;
        if (info.DeclaringType!.IsInterface)
        {
            var map = receiverType.GetInterfaceMap(info.DeclaringType);
            int index = Array.IndexOf(map.InterfaceMethods, info.IsGenericMethod ? info.GetGenericMethodDefinition() : info);
            if (index < 0)
                return method;
            var target = map.TargetMethods[index];
            return info.IsGenericMethod ? target.MakeGenericMethod(info.GetGenericArguments()) : target;
        }
        var baseDefinition = info.GetBaseDefinition();
        for (var type = receiverType; type is not null && type != info.DeclaringType; type = type.BaseType)
        {
            foreach (var candidate in type.GetMethods(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly))
            {
                if (candidate.Name == info.Name && Same(candidate.GetBaseDefinition(), baseDefinition) && !candidate.IsAbstract)
                    return info.IsGenericMethod ? candidate.GetGenericMethodDefinition().MakeGenericMethod(info.GetGenericArguments()) : candidate;
            }
        }
        return method;
    }

    // MethodInfo equality also compares ReflectedType; two views of one method are the same method here.
    private static bool Same(MethodInfo a, MethodInfo b) => a.MethodHandle == b.MethodHandle && a.DeclaringType == b.DeclaringType;
}
