using System;
using System.Runtime.CompilerServices;

namespace Hybrid.Tests;

// Targets are NoInlining unless a test is about inlining: a caller that inlined a method never reaches its code,
// which is the documented limit of native redirects, not what these tests check.
public static class Calc
{
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static int Twice(int x) => x * 2;

    [MethodImpl(MethodImplOptions.NoInlining)]
    public static int Thrice(int x) => x * 3;

    [MethodImpl(MethodImplOptions.NoInlining)]
    public static int Square(int x) => x * x;

    [MethodImpl(MethodImplOptions.NoInlining)]
    public static int Add1(int x) => x + 1;

    [MethodImpl(MethodImplOptions.NoInlining)]
    public static string Greet(string name) => "hello " + name;

    public static int TimesTen(int x) => x * 10;
    public static int Minus(int x) => -x;
    public static int Const42(int x) => 42;
    public static int Plus1000(int x) => x + 1000;
}

public class Animal
{
    private readonly string _name;

    public Animal(string name) => _name = name;

    [MethodImpl(MethodImplOptions.NoInlining)]
    public string Name() => _name;

    [MethodImpl(MethodImplOptions.NoInlining)]
    public virtual string Sound() => "...";

    public int Legs
    {
        [MethodImpl(MethodImplOptions.NoInlining)]
        get => _legs;
        [MethodImpl(MethodImplOptions.NoInlining)]
        set => _legs = value;
    }

    private int _legs = 4;
}

public class Dog : Animal
{
    public Dog() : base("dog") { }

    [MethodImpl(MethodImplOptions.NoInlining)]
    public override string Sound() => "woof";
}

public interface IShape
{
    double Area();
}

public sealed class Square : IShape
{
    public double Side = 2;

    [MethodImpl(MethodImplOptions.NoInlining)]
    public double Area() => Side * Side;
}

public struct Counter
{
    public int Value;

    [MethodImpl(MethodImplOptions.NoInlining)]
    public int Next() => ++Value;
}

public struct Big
{
    public long A, B, C, D;
}

public static class Generic
{
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static string Name<T>() => typeof(T).Name;

    [MethodImpl(MethodImplOptions.NoInlining)]
    public static Big MakeBig<T>(long a) => new Big { A = a, B = typeof(T).Name.Length };
}

public class Box<T>
{
    public T Value;

    public Box(T value) => Value = value;

    [MethodImpl(MethodImplOptions.NoInlining)]
    public T Get() => Value;

    [MethodImpl(MethodImplOptions.NoInlining)]
    public static string Kind() => "box of " + typeof(T).Name;

    [MethodImpl(MethodImplOptions.NoInlining)]
    public Big Wide(long a) => new Big { A = a, D = 7 };
}

public static class Shapes
{
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static bool TryParse(string text, out int value, ref int calls, in int bias)
    {
        calls++;
        return int.TryParse(text, out value) && (value += bias) == value;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    public static int Sum(ReadOnlySpan<int> values)
    {
        int sum = 0;
        foreach (var v in values)
            sum += v;
        return sum;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    public static Big MakeBig(long a) => new Big { A = a, B = a + 1, C = a + 2, D = a + 3 };

    [MethodImpl(MethodImplOptions.NoInlining)]
    public static ref int Pick(int[] values, int index) => ref values[index];
}

public sealed class Widget
{
    public static int Built;
    public readonly string Label;

    [MethodImpl(MethodImplOptions.NoInlining)]
    public Widget(string label)
    {
        Label = label;
        Built++;
    }
}
