// Placeholder: the engine's public API is being written in this file right now (see issue 2).
namespace Hybrid;
public static partial class Engine { }
