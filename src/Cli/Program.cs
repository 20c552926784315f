using System.CommandLine;
using Tessera.Cli.Commands;

var root = new RootCommand("tessera: a deep-learning engine in C#. Train reduced-scale multi-task vision models, run kernel benchmarks, inspect GPU kernels.");
root.Add(TrainCommand.Create());
root.Add(BenchCommand.Create());
root.Add(EvalCommand.Create());
root.Add(ProbeCommand.Create());
root.Add(DataCommand.Create());
root.Add(KernelsCommand.Create());
root.Add(ExperimentCommand.Create());
root.Add(ResultsCommand.Create());
root.Add(CheckpointCommand.Create());
root.Add(AllreduceBenchCommand.Create());
root.Add(SoakReportCommand.Create());
return CliRunner.Run(root, args);
