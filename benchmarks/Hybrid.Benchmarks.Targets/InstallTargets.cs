using System.Reflection;
using System.Runtime.CompilerServices;

namespace Hybrid.Benchmarks.Targets
{
    /// <summary>
    /// 32 distinct small methods for the install/dispose benchmarks: one iteration redirects (or un-redirects) each of
    /// them once, so every invocation hits a method in the same state.
    /// </summary>
    public static class InstallTargets
    {
        [MethodImpl(MethodImplOptions.NoInlining)] public static int Install00(int x) => x * 3 + 0;
        [MethodImpl(MethodImplOptions.NoInlining)] public static int Install01(int x) => x * 4 + 1;
        [MethodImpl(MethodImplOptions.NoInlining)] public static int Install02(int x) => x * 5 + 2;
        [MethodImpl(MethodImplOptions.NoInlining)] public static int Install03(int x) => x * 6 + 3;
        [MethodImpl(MethodImplOptions.NoInlining)] public static int Install04(int x) => x * 7 + 4;
        [MethodImpl(MethodImplOptions.NoInlining)] public static int Install05(int x) => x * 8 + 5;
        [MethodImpl(MethodImplOptions.NoInlining)] public static int Install06(int x) => x * 9 + 6;
        [MethodImpl(MethodImplOptions.NoInlining)] public static int Install07(int x) => x * 10 + 7;
        [MethodImpl(MethodImplOptions.NoInlining)] public static int Install08(int x) => x * 11 + 8;
        [MethodImpl(MethodImplOptions.NoInlining)] public static int Install09(int x) => x * 12 + 9;
        [MethodImpl(MethodImplOptions.NoInlining)] public static int Install10(int x) => x * 13 + 10;
        [MethodImpl(MethodImplOptions.NoInlining)] public static int Install11(int x) => x * 14 + 11;
        [MethodImpl(MethodImplOptions.NoInlining)] public static int Install12(int x) => x * 15 + 12;
        [MethodImpl(MethodImplOptions.NoInlining)] public static int Install13(int x) => x * 16 + 13;
        [MethodImpl(MethodImplOptions.NoInlining)] public static int Install14(int x) => x * 17 + 14;
        [MethodImpl(MethodImplOptions.NoInlining)] public static int Install15(int x) => x * 18 + 15;
        [MethodImpl(MethodImplOptions.NoInlining)] public static int Install16(int x) => x * 19 + 16;
        [MethodImpl(MethodImplOptions.NoInlining)] public static int Install17(int x) => x * 20 + 17;
        [MethodImpl(MethodImplOptions.NoInlining)] public static int Install18(int x) => x * 21 + 18;
        [MethodImpl(MethodImplOptions.NoInlining)] public static int Install19(int x) => x * 22 + 19;
        [MethodImpl(MethodImplOptions.NoInlining)] public static int Install20(int x) => x * 23 + 20;
        [MethodImpl(MethodImplOptions.NoInlining)] public static int Install21(int x) => x * 24 + 21;
        [MethodImpl(MethodImplOptions.NoInlining)] public static int Install22(int x) => x * 25 + 22;
        [MethodImpl(MethodImplOptions.NoInlining)] public static int Install23(int x) => x * 26 + 23;
        [MethodImpl(MethodImplOptions.NoInlining)] public static int Install24(int x) => x * 27 + 24;
        [MethodImpl(MethodImplOptions.NoInlining)] public static int Install25(int x) => x * 28 + 25;
        [MethodImpl(MethodImplOptions.NoInlining)] public static int Install26(int x) => x * 29 + 26;
        [MethodImpl(MethodImplOptions.NoInlining)] public static int Install27(int x) => x * 30 + 27;
        [MethodImpl(MethodImplOptions.NoInlining)] public static int Install28(int x) => x * 31 + 28;
        [MethodImpl(MethodImplOptions.NoInlining)] public static int Install29(int x) => x * 32 + 29;
        [MethodImpl(MethodImplOptions.NoInlining)] public static int Install30(int x) => x * 33 + 30;
        [MethodImpl(MethodImplOptions.NoInlining)] public static int Install31(int x) => x * 34 + 31;

        /// <summary><c>Install00</c> .. <c>Install31</c>, in order.</summary>
        public static MethodInfo[] All(System.Type type)
        {
            var methods = new MethodInfo[32];
            for (int i = 0; i < methods.Length; i++)
                methods[i] = type.GetMethod("Install" + i.ToString("00", System.Globalization.CultureInfo.InvariantCulture))!;
            return methods;
        }
    }
}
