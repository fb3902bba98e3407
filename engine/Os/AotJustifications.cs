namespace Hybrid.Os;

/// <summary>Why the native path's use of run-time code generation is safe to exempt from the AOT analyzers.</summary>
internal static class AotJustifications
{
    public const string NativeOnly =
        "Only reached on the native path, which Engine enters only when NativePatching.UnavailableReason is null, and that requires RuntimeFeature.IsDynamicCodeSupported (never true under NativeAOT).";

    public const string DelegateInvoke = "Invoke of a delegate type is never trimmed: the runtime itself calls it.";
}
