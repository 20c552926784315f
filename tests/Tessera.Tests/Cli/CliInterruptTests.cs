using System.Diagnostics;
using Tessera.Models.Training;
using Tessera.Tests.Training;
using Xunit;

namespace Tessera.Tests.Cli;

/// <summary>Issue 16 item 5: Ctrl-C (SIGINT) stops a training run cleanly, keeps a checkpoint and prints the --resume command.</summary>
public sealed class CliInterruptTests
{
    [Fact]
    public async Task SigintFinishesTheStepCheckpointsAndPrintsTheResumeCommand()
    {
        if (!OperatingSystem.IsLinux() && !OperatingSystem.IsMacOS()) return;
        string folder = TrainingFixtures.TempFolder();
        string run = Path.Combine(folder, "run");
        string[] args = ["train", "strokes", "--steps", "100000", "--batch", "8", "eval_batches=1", "--out", run, "--threads", "1"];
        using var process = TesseraProcess.Start(folder, args);
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        string log = Path.Combine(run, "log.jsonl");
        var clock = Stopwatch.StartNew();
        while (RunLog.Read(log).Count < 2 && !process.HasExited && clock.Elapsed.TotalSeconds < 120) Thread.Sleep(20);
        if (process.HasExited)
            Assert.Fail("the run ended before it could be interrupted: " + await stderr);
        // A test run started in the background of a non-interactive shell inherits SIGINT as ignored
        // (POSIX), and .NET rightly keeps it ignored; SIGTERM takes the same path in Interrupts then.
        string signal = SigintIgnored(process.Id) ? "-TERM" : "-INT";
        using (var kill = Process.Start("kill", [signal, process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
            kill.WaitForExit();
        if (!process.WaitForExit(120_000))
        {
            process.Kill();
            Assert.Fail($"the run did not stop within 2 minutes of kill {signal}: {await stderr}");
        }

        Assert.Equal(130, process.ExitCode);
        string errors = await stderr;
        Assert.Contains("interrupted at step", errors, StringComparison.Ordinal);
        Assert.Contains($"Continue with: tessera train strokes --steps 100000 --batch 8 eval_batches=1 --out {run} --threads 1 --resume", errors, StringComparison.Ordinal);
        Assert.DoesNotContain("{", await stdout, StringComparison.Ordinal); // no final metrics line: the run is not finished
        long step = Checkpoint.ReadStep(Path.Combine(run, "checkpoint.safetensors"));
        Assert.Equal(RunLog.Read(log).Count, step); // the checkpoint holds every logged step

        // The folder's lock went with the process, and the checkpoint resumes.
        var (code, _, resumeErrors) = TesseraProcess.Run(folder, "train", "strokes", "--steps", (step + 1).ToString(System.Globalization.CultureInfo.InvariantCulture), "--batch", "8", "eval_batches=1", "--out", run, "--threads", "1", "--resume", "--quiet");
        Assert.True(code == 0, resumeErrors);
        Assert.Equal(step + 1, RunLog.Read(log).Count);
    }

    /// <summary>Whether SIGINT (bit 1 of the SigIgn mask) is ignored by the process.</summary>
    private static bool SigintIgnored(int pid)
    {
        string status = Path.Combine("/proc", pid.ToString(System.Globalization.CultureInfo.InvariantCulture), "status");
        if (!File.Exists(status)) return false;
        var line = File.ReadLines(status).FirstOrDefault(l => l.StartsWith("SigIgn:", StringComparison.Ordinal));
        return line is not null && (Convert.ToUInt64(line["SigIgn:".Length..].Trim(), 16) & 0x2) != 0;
    }
}
