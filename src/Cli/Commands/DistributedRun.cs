using System.Globalization;
using System.Runtime.InteropServices;
using Tessera.Engine.Distributed;
using Tessera.Models.Training;
using Tessera.Models.Training.Distributed;

namespace Tessera.Cli.Commands;

/// <summary>
/// How `train --distributed` fails: an error every rank sees alike (a setup failure shared through
/// <see cref="RankAgreement"/>, a mismatch, a non-finite step) ends every rank normally with the
/// same message prefixed by its rank; an error only one rank sees (a failed write on rank 0) stops
/// the whole job through MPI_Abort, since the other ranks wait in a collective; and a rank that
/// mpirun terminates because another rank died says so and that the last checkpoint is intact.
/// </summary>
internal static class DistributedRun
{
    private static bool _setupShared;
    private static PosixSignalRegistration? _terminate;

    /// <summary>Runs the command body on this rank with the failure rules above.</summary>
    public static int Guard(MpiCommunicator world, Func<int> body)
    {
        try
        {
            return body();
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or IOException or InvalidDataException or UnauthorizedAccessException)
        {
            if (!_setupShared)
            {
                // The other ranks are (or will be) in the setup exchange: give them this error.
                _setupShared = true;
                try
                {
                    RankAgreement.ShareFailure(world, e);
                }
                catch (RankAgreement.RankMismatchException shared)
                {
                    throw new InvalidOperationException($"rank {world.Rank}: {shared.Message}", e);
                }
            }
            if (e is RankAgreement.RankMismatchException or NonFiniteLossException)
                throw new InvalidOperationException($"rank {world.Rank}: {e.Message}", e);
            world.Abort($"error: rank {world.Rank}: {e.Message} (stopping every rank of the job)");
            throw;
        }
    }

    /// <summary>Every rank's end of setup: shares a setup error (or none) with the others.</summary>
    public static void ShareSetup(ICommunicator world, Exception? error)
    {
        _setupShared = true;
        RankAgreement.ShareFailure(world, error);
    }

    /// <summary>When mpirun stops this rank (another rank died), one line saying so and where the run can resume from.</summary>
    public static void OnTerminate(ICommunicator world, string checkpointPath)
    {
        _terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, _ =>
        {
            string checkpoint = File.Exists(checkpointPath)
                ? $"the last checkpoint '{checkpointPath}' is intact (written whole, then renamed): continue with --resume"
                : "no checkpoint was written yet";
            Console.Error.WriteLine($"error: rank {world.Rank}: stopped by mpirun: another rank of the job ended (see its error or mpirun's message); {checkpoint}");
            Console.Error.Flush();
        });
    }

    /// <summary>Rank 0 prints (stderr) how long each rank spent in collectives per step: the communication overhead.</summary>
    public static void ReportCommunication(ICommunicator world, MultiTaskTrainer trainer, double trainSeconds, long steps)
    {
        double inCollectives = (world as MpiCommunicator)?.SecondsInCollectives ?? 0;
        var (reports, gradients, buffers) = trainer.ExchangeSeconds;
        // [rank][all collectives, reports, gradients, buffers]
        var all = new double[world.Size * 4];
        all[world.Rank * 4] = inCollectives;
        all[world.Rank * 4 + 1] = reports;
        all[world.Rank * 4 + 2] = gradients;
        all[world.Rank * 4 + 3] = buffers;
        world.AllReduce(all.AsSpan());
        if (world.Rank != 0 || steps <= 0) return;
        string perRank = string.Join("; ", Enumerable.Range(0, world.Size).Select(r => string.Create(CultureInfo.InvariantCulture,
            $"rank {r} {all[r * 4] * 1000 / steps:F1} ms (step-end report {all[r * 4 + 1] * 1000 / steps:F1}, gradients {all[r * 4 + 2] * 1000 / steps:F1}, buffers {all[r * 4 + 3] * 1000 / steps:F1}, SyncBN the rest)")));
        Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"distributed: {world.Size} ranks over {world.Description}, {steps} steps in {trainSeconds:F1} s ({trainSeconds * 1000 / steps:F1} ms/step); in collectives per step, waiting for slower ranks included: {perRank}"));
    }
}
