using SharpFuzz;
using Tessera.Fuzz;

// Tessera.Fuzz TARGET            the afl++ loop (inputs on stdin; run by fuzz/run.sh under afl-fuzz)
// Tessera.Fuzz TARGET FILE...    replays files once each: prints accepted / rejected / the exception (triage of findings)
// Tessera.Fuzz --write-seeds DIR  writes the generated seeds (safetensors, idx, image) under DIR/TARGET
if (args is ["--write-seeds", var corpus])
{
    Seeds.Write(corpus);
    return 0;
}
if (args.Length == 0)
{
    Console.Error.WriteLine($"usage: Tessera.Fuzz TARGET [FILE...]; targets: {string.Join(", ", FuzzTargets.All.Select(t => t.Name))}");
    return 2;
}
FuzzTarget target;
try
{
    target = FuzzTargets.Find(args[0]);
}
catch (ArgumentException e)
{
    Console.Error.WriteLine($"error: {e.Message}");
    return 2;
}
if (args.Length == 1)
{
    Fuzzer.OutOfProcess.Run(stream =>
    {
        using var buffer = new MemoryStream();
        stream.CopyTo(buffer);
        target.Accepts(buffer.ToArray());
    });
    return 0;
}
int findings = 0;
foreach (string file in args.Skip(1))
{
    try
    {
        Console.WriteLine($"{file}: {(target.Accepts(File.ReadAllBytes(file)) ? "accepted" : "rejected (documented exception)")}");
    }
    catch (Exception e)
    {
        findings++;
        Console.WriteLine($"{file}: FINDING {e.GetType().FullName}: {e.Message}\n{e.StackTrace}");
    }
}
return findings == 0 ? 0 : 1;
