using System;
using System.Collections.Generic;
using System.Linq;
using System.Reflection;
using Hybrid.Testing.Internal;

namespace Hybrid.Testing;

/// <summary>One call that reached a <see cref="Fake"/>: which instance, which arguments, in which order.</summary>
public sealed class FakeCall
{
    private readonly object?[] _arguments;

    internal FakeCall(Fake fake, int number, object? instance, object?[] arguments)
    {
        Fake = fake;
        Number = number;
        Instance = instance;
        _arguments = arguments;
    }

    /// <summary>The fake that handled the call.</summary>
    public Fake Fake { get; }

    /// <summary>The faked method.</summary>
    public MethodBase Method => Fake.Method;

    /// <summary>1 for the fake's first call, 2 for the second, ...</summary>
    public int Number { get; }

    /// <summary>The instance the method was called on (a boxed copy for a struct); null for a static method or a ref struct.</summary>
    public object? Instance { get; }

    /// <summary>
    /// The arguments, in parameter order, without the instance. Value types are boxed; <c>Span&lt;T&gt;</c> and
    /// <c>ReadOnlySpan&lt;T&gt;</c> are recorded as a <c>T[]</c> copy, other ref structs as null, pointers as <see cref="IntPtr"/>,
    /// <c>out</c> arguments as null until a behaviour sets them.
    /// </summary>
    public IReadOnlyList<object?> Arguments => _arguments;

    /// <summary>Argument <paramref name="index"/> (0 = the method's first parameter, not the instance) as <typeparamref name="T"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">There is no such parameter.</exception>
    /// <exception cref="InvalidCastException">The argument is not a <typeparamref name="T"/>; the message names the parameter and its type.</exception>
    public T Arg<T>(int index)
    {
        CheckIndex(index);
        var value = _arguments[index];
        if (value is T typed)
            return typed;
        if (value is null && default(T) is null)
            return default!;
        var parameter = Method.GetParameters()[index];
        throw new InvalidCastException($"Argument {index} ('{parameter.Name}') of {Names.Describe(Method)} is {(value is null ? "null" : "a " + Names.Type(value.GetType()))}, not a {Names.Type(typeof(T))}. Fix: call Arg<{Names.Type(parameter.ParameterType.IsByRef ? parameter.ParameterType.GetElementType()! : parameter.ParameterType)}>({index}).");
    }

    /// <summary>Sets a <c>ref</c> or <c>out</c> argument; the caller sees the value when the fake returns.</summary>
    /// <exception cref="InvalidOperationException">The parameter is not passed by reference (or is <c>in</c>, or a ref struct).</exception>
    public void SetArgument(int index, object? value)
    {
        CheckIndex(index);
        var parameter = Method.GetParameters()[index];
        var type = parameter.ParameterType;
        if (!type.IsByRef || (parameter.IsIn && !parameter.IsOut) || type.GetElementType()!.IsByRefLike || type.GetElementType()!.IsPointer)
            throw new InvalidOperationException($"Parameter {index} ('{parameter.Name}') of {Names.Describe(Method)} is {Names.Type(type)}{(parameter.IsIn ? " (in)" : "")}; only ref and out parameters of boxable types can be set by a fake.");
        _arguments[index] = value;
    }

    private void CheckIndex(int index)
    {
        if ((uint)index >= (uint)_arguments.Length)
            throw new ArgumentOutOfRangeException(nameof(index), index, $"{Names.Describe(Method)} has {_arguments.Length} parameter(s) (the instance is not counted).");
    }

    /// <inheritdoc />
    public override string ToString() =>
        $"#{Number} {Names.Describe(Method)}{(Instance is null ? "" : " on " + Instance)} with ({string.Join(", ", _arguments.Select(Format))})";

    internal static string Format(object? value) => value switch
    {
        null => "null",
        string s => "\"" + s + "\"",
        Array a => Names.Type(a.GetType()) + "[" + a.Length + "]",
        _ => value.ToString() ?? value.GetType().Name,
    };
}
