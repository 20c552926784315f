using System.CommandLine;
using Tessera.Engine.Serialization;

namespace Tessera.Cli.Commands;

/// <summary>
/// <c>tessera checkpoint verify PATH...</c>: checks every tensor of each safetensors file against
/// the digest written with it. Exit 0: all verified; 1: a file is corrupt (its tensors named);
/// 3: a file has no digests (written by an older Tessera or another tool), so it could not be
/// verified.
/// </summary>
internal static class CheckpointCommand
{
    public static Command Create()
    {
        var paths = new Argument<string[]>("paths") { Description = "checkpoint.safetensors / model.safetensors files (or any safetensors file).", Arity = ArgumentArity.OneOrMore };
        var verify = new Command("verify", "Check each file's tensors against their stored XXH128 digests (exit 0 verified, 1 corrupt, 3 no digests to check).") { paths };
        verify.SetAction(parse =>
        {
            int exit = 0;
            foreach (var path in parse.GetValue(paths)!)
            {
                var report = SafeTensors.Verify(path);
                if (!report.HasDigests)
                {
                    Console.WriteLine($"{path}: could not verify: no digests ({report.TensorCount} tensors; written by an older Tessera or another tool)");
                    if (exit == 0) exit = 3;
                }
                else if (report.Corrupt.Count > 0)
                {
                    CliRunner.WriteError($"{path}: corrupt: {report.Corrupt.Count} of {report.TensorCount} tensors do not match their digests: {string.Join(", ", report.Corrupt.Take(10))}{(report.Corrupt.Count > 10 ? ", ..." : "")}");
                    exit = 1;
                }
                else
                {
                    Console.WriteLine($"{path}: ok: {report.TensorCount} tensors verified (xxh128)");
                }
            }
            return exit;
        });
        return new Command("checkpoint", "Inspect checkpoint files.") { verify };
    }
}
