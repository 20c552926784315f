using System.CommandLine;
using Tessera.Engine.Compiler;
using Tessera.Kernels.Gpu;

namespace Tessera.Cli.Commands;

/// <summary>
/// <c>tessera kernels</c>: lists the registered GPU kernels; <c>--ptx DIR</c> writes one .ptx per
/// kernel (and specialisation); <c>--timing</c> measures compile times; <c>--ptxas</c> prints the
/// resource table when ptxas has been fetched (tools/ptxas/fetch-ptxas.sh).
/// </summary>
public static class KernelsCommand
{
    public static Command Create()
    {
        var ptx = new Option<string?>("--ptx") { Description = "Write one .ptx file per registered kernel (and specialisation) into this folder." };
        var target = new Option<string>("--target") { Description = "PTX target: sm_80 (default) or sm_90.", DefaultValueFactory = _ => "sm_80" };
        var timing = new Option<bool>("--timing") { Description = "Measure first compile, warm compile and cached lookup per kernel." };
        var ptxas = new Option<bool>("--ptxas") { Description = "Assemble every kernel with ptxas and print registers, spills and shared memory." };
        var command = new Command("kernels", "List the registered GPU kernels (C# methods compiled to PTX).") { ptx, target, timing, ptxas };
        command.SetAction(parse => Run(parse.GetValue(ptx), ParseTarget(parse.GetValue(target)!), parse.GetValue(timing), parse.GetValue(ptxas)));
        return command;
    }

    private static GpuTarget ParseTarget(string text) => text switch
    {
        "sm_80" => GpuTarget.Sm80,
        "sm_90" => GpuTarget.Sm90,
        _ => throw new ArgumentException($"kernels: unknown --target '{text}'; expected sm_80 or sm_90"),
    };

    private static int Run(string? ptxFolder, GpuTarget target, bool timing, bool runPtxas)
    {
        if (timing)
        {
            Console.WriteLine(CompileTimer.Table(CompileTimer.Measure(GpuKernelTable.All, target)));
            return 0;
        }
        if (ptxFolder is not null)
            Directory.CreateDirectory(ptxFolder);
        var reports = new List<PtxasReport>();
        string? ptxasPath = runPtxas ? Ptxas.Find(Directory.GetCurrentDirectory()) ?? throw new InvalidOperationException(Ptxas.NotFetchedMessage) : null;
        foreach (KernelEntry entry in GpuKernelTable.All)
        {
            CompiledKernel kernel = entry.Compile(target);
            string line = $"{entry.Name,-60} {kernel.EntryName}";
            if (ptxFolder is not null)
            {
                string file = Path.Combine(ptxFolder, kernel.EntryName + ".ptx");
                File.WriteAllText(file, kernel.Ptx);
                line += $"  -> {file}";
            }
            Console.WriteLine(line);
            if (ptxasPath is not null)
                reports.Add(Ptxas.Check(ptxasPath, kernel) with { Kernel = entry.Name });
        }
        if (reports.Count > 0)
        {
            Console.WriteLine();
            Console.WriteLine(Ptxas.Table(reports));
            if (reports.Any(r => r.Spills))
                throw new InvalidOperationException("kernels: at least one kernel spills registers (see the table)");
        }
        return 0;
    }
}
