using System;

namespace Hybrid.Tests;

/// <summary>
/// The engine suite runs twice in CI: as is (native jumps) and with HYBRID_STRATEGY=il, where every redirect must go
/// through the woven IL guard of tests/Hybrid.Engine.Fixtures. Tests that are by nature about native code are
/// excluded from the second run by category.
/// </summary>
public static class Categories
{
    /// <summary>About machine code: tier-up, inlining, byte-exact restore, protections, unwoven targets.</summary>
    public const string NativeOnly = "NativeOnly";

    /// <summary>Framework methods: on the IL path they go through the call-site guards woven into this test assembly.</summary>
    public const string FrameworkMethod = "FrameworkMethod";

    /// <summary>True in the hardened lane (.ci/hardened.sh): a seccomp filter refuses writable+executable pages.</summary>
    public static bool Hardened => Environment.GetEnvironmentVariable("HYBRID_HARDENED") == "1";

    public static RedirectStrategy ExpectedStrategy => Engine.ForcedStrategy ?? (Hardened ? RedirectStrategy.ILDispatch : RedirectStrategy.NativeJump);
}
