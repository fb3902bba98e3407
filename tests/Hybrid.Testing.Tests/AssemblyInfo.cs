using NUnit.Framework;

// More workers than the CI machine has cores: the parallel proof wants tests interleaved as much as possible.
[assembly: LevelOfParallelism(8)]
