using System;
using System.Collections.Generic;
using System.Threading.Tasks;

namespace Hybrid.Weaver.Fixtures
{
    public static class Statics
    {
        public static int InitCount;

        static Statics()
        {
            InitCount++;
        }

        public static int Add(int a, int b) => a + b;

        public static string Greet(string name) => "Hello " + name;

        public static int Overloaded(int x) => x + 1;

        public static int Overloaded(string s) => s.Length;

        public static void Swap(ref int a, ref int b)
        {
            var t = a;
            a = b;
            b = t;
        }

        public static bool TryParse(string s, out int value) => int.TryParse(s, out value);

        public static int ReadIn(in int value) => value * 3;

        public static int Sum(ReadOnlySpan<int> values)
        {
            var total = 0;
            foreach (var v in values)
                total += v;
            return total;
        }

        public static ref int Slot(int[] array, int index) => ref array[index];

        public static unsafe int Deref(int* p) => *p + 1;

        public static T Id<T>(T value) => value;

        public static int Optional(int x = 5) => x * 10;

        public static int Params(params int[] values) => values.Length;

        public static void Nothing()
        {
        }

        public static int DoWhile(int n)
        {
            var i = 0;
            do
            {
                i++;
            }
            while (i < n);
            return i;
        }

        public static string Protected(int x)
        {
            var log = "";
            try
            {
                if (x < 0)
                    throw new ArgumentException("negative");
                log += "ok";
            }
            catch (ArgumentException)
            {
                log += "caught";
            }
            finally
            {
                log += "+finally";
            }
            return log;
        }

        public static string Classify(int x)
        {
            switch (x)
            {
                case 0: return "zero";
                case 1: return "one";
                case 2: return "two";
                case 3: return "three";
                default: return "many";
            }
        }

        public static int Throws(int x)
        {
            if (x > 0)
                throw new InvalidOperationException("boom"); // LINE-MARKER: Throws
            return x;
        }

        public static DateTime Now => new DateTime(2000, 1, 1);

        public static async Task<int> DoubleAsync(int x)
        {
            await Task.Yield();
            return x * 2;
        }

        public static IEnumerable<int> Range(int n)
        {
            for (var i = 0; i < n; i++)
                yield return i;
        }

        public static Func<int, int> MakeAdder(int k) => x => x + k;

        public static int Local(int x)
        {
            return Twice(x) + 1;
            static int Twice(int y) => y * 2;
        }

        public static int VarArgs(__arglist) => new ArgIterator(__arglist).GetRemainingCount();
    }

    public class Counter
    {
        public readonly List<string> Log = new List<string> { "field-init" };
        int count;

        public Counter(int start)
            : base()
        {
            Log.Add("ctor(" + start + ")");
            count = start;
        }

        public Counter()
            : this(10)
        {
            Log.Add("ctor()");
        }

        public int Count => count;

        public int Value { get; set; }

        public event EventHandler? Changed;

        public int Increment() => ++count;

        public virtual string Describe() => "Counter " + count;
    }

    public class Thrower
    {
        public int Value = 1;

        public Thrower(int x)
            : base()
        {
            if (x > 0)
                throw new InvalidOperationException("ctor"); // LINE-MARKER: CtorThrows
            Value = x;
        }
    }

    public class DerivedCounter : Counter
    {
        public DerivedCounter()
            : base(100)
        {
        }

        public override string Describe() => "Derived " + base.Describe();
    }

    public abstract class Shape
    {
        public abstract double Area();

        public string Name() => GetType().Name;
    }

    public struct Point
    {
        public int X;
        public int Y;

        public Point(int x, int y)
        {
            X = x;
            Y = y;
        }

        public int Sum() => X + Y;

        public void Move(int dx) => X += dx;

        public readonly int Product() => X * Y;
    }

    public struct Pair<T>
    {
        public T Left;
        public T Right;

        public Pair(T left, T right)
            : this()
        {
            Left = left;
            Right = right;
        }

        public T Pick(bool left) => left ? Left : Right;
    }

    public class Outer<TOuter>
    {
        public class Nested<TInner>
        {
            public string Describe(TOuter a, TInner b) => a + "/" + b;
        }
    }

    public class Cache<T>
    {
        T last = default!;

        public T Get(T value)
        {
            last = value;
            return value;
        }

        public T Last => last;

        public TOut Map<TOut>(Func<T, TOut> f) => f(last);
    }

    public class Constrained<T>
        where T : struct, IComparable<T>
    {
        public T Max(T a, T b) => a.CompareTo(b) >= 0 ? a : b;

        public T? Maybe(T value, bool has) => has ? value : null;

        public TList Fill<TList>(TList list, T item)
            where TList : ICollection<T>, new()
        {
            list.Add(item);
            return list;
        }
    }

    public class Outer
    {
        public class Inner
        {
            public int Value() => 42;
        }
    }

    public ref struct SpanHolder
    {
        readonly Span<int> span;

        public SpanHolder(Span<int> span)
        {
            this.span = span;
        }

        public int First() => span[0];

        public static int FirstOf(int[] values) => new SpanHolder(values).First();
    }

    public interface IGreeter
    {
        string Hello() => "interface default";
    }

    public static class Tricky
    {
        public static int Mixed<T, U>(T a, U b, ref T c)
            where T : class
        {
            c = a;
            return b!.GetHashCode() == 0 ? 0 : 1;
        }
    }
}
