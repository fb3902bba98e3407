using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;

namespace Hybrid.Weaver.Fixtures.CallSites
{
    /// <summary>Calls into framework methods, which cannot be woven themselves; their call sites here can.</summary>
    public static class Calls
    {
        public static DateTime UtcNow() => DateTime.UtcNow;                      // call static (property getter)

        public static string Read(string path) => File.ReadAllText(path);         // call static

        public static Guid NewId() => Guid.NewGuid();                             // call static

        public static string Clean(string s) => s.Trim();                         // callvirt on a non-virtual method

        public static string Describe(object o) => o.ToString()!;                 // callvirt on a virtual method

        public static void Close(IDisposable d) => d.Dispose();                   // callvirt on an interface method

        public static int CountInts(IEnumerable<int> xs) => xs.Count();           // generic: Count<int>

        public static int CountStrings(IEnumerable<string> xs) => xs.Count();     // generic: Count<string>

        public static int CountAny<T>(IEnumerable<T> xs) => xs.Count();           // generic over the caller's parameter

        public static DateTime Tomorrow(DateTime d) => d.AddDays(1);              // call on a value type: 'this' is a ref

        public static StringBuilder Builder(int capacity) => new StringBuilder(capacity); // newobj

        public static Func<Guid> IdFactory() => Guid.NewGuid;                      // ldftn over a static method

        public static Func<DateTime> Later() => () => DateTime.UtcNow;             // call inside a lambda

        public static string DescribeGeneric<T>(T value) => value!.ToString()!;   // constrained. callvirt: left alone

        public static DayOfWeek ParseDay(string s) => Enum.Parse<DayOfWeek>(s);  // generic with a 'struct' constraint

        public static int AddTo(List<int> list, int x)                            // method of a generic type
        {
            list.Add(x);
            return list.Count;
        }

        public static bool Lookup(Dictionary<string, int> map, string key, out int value) => map.TryGetValue(key, out value); // out parameter

        public static int Woven(int x) => x + DateTime.UtcNow.Year;             // also gets a method guard in the tests
    }

    public sealed class Resource : IDisposable
    {
        public int Disposed;

        public void Dispose() => Disposed++;
    }

    public sealed class Custom
    {
        public override string ToString() => "custom";
    }
}
