using BenchmarkDotNet.Running;

// dotnet run -c Release --project benchmarks/Tessera.Benchmarks -- --filter '*'
BenchmarkSwitcher.FromAssembly(typeof(Tessera.Benchmarks.MatmulBenchmarks).Assembly).Run(args);
