namespace Hybrid.CoreClr;

/// <summary>
/// What sits at an address CoreCLR hands out as a method's entry, on any CPU (each CPU's <see cref="ICodeReader"/>
/// recognises its own instruction forms of these stubs).
/// </summary>
internal enum StubKind
{
    /// <summary>Not a stub we know: treat as the method's compiled body.</summary>
    Body,

    /// <summary>
    /// FixupPrecode: a jump through its <c>Target</c> cell, then the fixup half that loads the MethodDesc and calls the
    /// prestub (x64: <c>jmp [rip+Target]; mov r10,[rip+MethodDesc]; jmp [rip+PrecodeFixupThunk]</c>; arm64:
    /// <c>ldr x11, Target; br x11; [dmb ishld;] ldr x12, MethodDesc; ldr x11, PrecodeFixupThunk; br x11</c>).
    /// </summary>
    FixupPrecode,

    /// <summary>FixupPrecode whose target is still its own fixup half: the method has not been compiled.</summary>
    UncompiledFixupPrecode,

    /// <summary>StubPrecode: the MethodDesc into a scratch register, then a jump through <c>Target</c> (x64 r10, arm64 x12).</summary>
    StubPrecode,

    /// <summary>Tiering call-counting stub: decrements the method's counter and goes on through <c>TargetForMethod</c>.</summary>
    CallCountingStub,

    /// <summary>A plain jump: direct, through a cell, or the runtime's jump stub (x64 <c>mov rax,imm; jmp rax</c>, arm64 <c>ldr x16, lit; br x16</c>).</summary>
    Jump,

    /// <summary>
    /// Unboxing stub of a struct's virtual or interface method: <c>this</c> advanced past the box's MethodTable pointer
    /// (x64 <c>add rdi/rcx,8</c>, arm64 <c>add x0,x0,#8</c>) then a jump to the method's own entry (next: the jump
    /// after the adjustment). Reflection hands out the unboxing-stub MethodDesc for such methods, so its precode leads
    /// here; patching this stub would redirect only boxed calls, and with <c>this</c> pointing at the box header.
    /// </summary>
    UnboxingStub,
}

/// <summary>
/// One CPU's reading of CoreCLR machine code: the stubs in front of a method's code (for <see cref="CodeLocator"/>) and
/// the call a compiled caller makes (for <see cref="CallSiteProbe"/>). Adding a CPU means adding an implementation
/// and naming it in <see cref="Platform.CodeReader"/>.
/// </summary>
internal interface ICodeReader
{
    /// <summary>
    /// What sits at <paramref name="address"/>; <paramref name="next"/> is where it leads, and for a precode
    /// <paramref name="methodDesc"/> is the MethodDesc it serves (the key the JIT compiles that code under), else 0.
    /// </summary>
    StubKind Classify(nint address, out nint next, out nint methodDesc);

    /// <summary>
    /// The entry a compiled method (<paramref name="code"/>, ending in a return) calls: with a <paramref name="key"/>
    /// (an instantiation argument), the first call after that value is loaded into a register; otherwise the last call.
    /// 0 when there is none.
    /// </summary>
    nint FindCalledEntry(nint code, ulong? key);
}
