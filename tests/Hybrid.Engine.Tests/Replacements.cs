using System;
using System.IO;

namespace Hybrid.Tests;

/// <summary>Static replacements, shaped as the engine requires: instance first, then the original's parameters.</summary>
public static class Replacements
{
    public static string AnimalName(Animal self) => "fake";
    public static string DogSound(Dog self) => "meow";
    public static string AnimalSound(Animal self) => "silence";
    public static int LegsGet(Animal self) => 3;
    public static void LegsSet(Animal self, int value) => LastLegs = value * 100;
    public static int LastLegs;
    public static double SquareArea(Square self) => -1;
    public static int CounterNext(ref Counter self) => self.Value -= 10;
    public static string GenericNameOfInt() => "redirected int";
    public static string GenericNameOfString() => "redirected string";
    public static int BoxIntGet(Box<int> self) => -self.Value;
    public static string BoxStringGet(Box<string> self) => "[" + self.Value + "]";
    public static string BoxKind() => "fake box";
    public static Big BoxWide(Box<string> self, long a) => new Big { A = -a, B = -2, C = -3, D = -4 };
    public static Big MakeBigOfString(long a) => new Big { A = a * 100, D = 99 };
    public static void WidgetCtor(Widget self, string label) => LastWidgetLabel = label;
    public static string? LastWidgetLabel;
    public static bool TryParse(string text, out int value, ref int calls, in int bias)
    {
        calls += 100;
        value = 4242 + bias;
        return true;
    }
    public static int Sum(ReadOnlySpan<int> values) => values.Length * 1000;
    public static Big MakeBig(long a) => new Big { A = -a, B = -a, C = -a, D = -a };
    public static readonly int[] Other = { 7, 8, 9 };
    public static ref int Pick(int[] values, int index) => ref Other[index];
    public static DateTime FixedUtcNow() => new DateTime(2001, 2, 3, 4, 5, 6, DateTimeKind.Utc);
    public static Guid FixedGuid() => new Guid("11111111-2222-3333-4444-555555555555");
    public static string ReadAllText(string path) => "contents of " + path;
    public static string? GetEnvironmentVariable(string name) => "env:" + name;
}
