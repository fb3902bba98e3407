namespace Hybrid.Patching;

/// <summary>
/// What the hook of one compiled body is made of, whatever the CPU: the bytes that replace the body's entry, the
/// page holding the dispatch stub and the trampoline, and where the trampoline is. Built by
/// <see cref="X64.X64HookBuilder"/> or <see cref="Arm64.Arm64HookBuilder"/>; installed the same way by <see cref="MethodHook"/>.
/// </summary>
internal sealed class HookCode
{
    public required byte[] EntryPatch { get; init; }
    public required byte[] StubPage { get; init; }
    public required nint Trampoline { get; init; }

    /// <summary>
    /// For each instruction boundary inside the overwritten bytes (other than the entry), the address of the same
    /// instruction in the trampoline: a thread stopped there while the jump is written is moved to the trampoline.
    /// Empty on arm64, where the entry patch is one instruction.
    /// </summary>
    public required (nint From, nint To)[] InteriorFixups { get; init; }
}

/// <summary>How a dispatch stub finds the instantiation key of shared generic code.</summary>
internal readonly record struct StubFilter(bool ThisMethodTable, int ArgumentIndex);
