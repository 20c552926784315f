using System.Runtime.InteropServices;

namespace Tessera.Cli.Commands;

/// <summary>
/// Ctrl-C (SIGINT) and SIGTERM. A verb that can stop cleanly (train) takes <see cref="Token"/>:
/// the first signal asks it to finish the current step, checkpoint and say how to resume; a
/// second signal, or any signal during a verb that cannot stop cleanly, restores the terminal
/// (cursor shown) and exits with 130 at once.
/// </summary>
internal static class Interrupts
{
    /// <summary>The exit code of a run stopped by a signal (128 + SIGINT, as shells report it).</summary>
    public const int ExitCode = 130;

    private static readonly CancellationTokenSource Source = new();
    private static readonly List<PosixSignalRegistration> Registrations = [];
    private static int _signals;

    /// <summary>Cancelled at the first signal, while <see cref="Graceful"/> is set.</summary>
    public static CancellationToken Token => Source.Token;

    /// <summary>Set by a verb that watches <see cref="Token"/> and stops cleanly.</summary>
    public static bool Graceful { get; set; }

    public static void Install()
    {
        foreach (var signal in new[] { PosixSignal.SIGINT, PosixSignal.SIGTERM })
            Registrations.Add(PosixSignalRegistration.Create(signal, OnSignal));
    }

    private static void OnSignal(PosixSignalContext context)
    {
        context.Cancel = true; // we decide how the process ends
        if (Interlocked.Increment(ref _signals) == 1 && Graceful)
        {
            Console.Error.WriteLine();
            Console.Error.WriteLine("interrupted: finishing the current step and saving a checkpoint (interrupt again to abandon the step)");
            Source.Cancel();
            return;
        }
        RestoreTerminal();
        Console.Error.WriteLine(Graceful
            ? "interrupted again: abandoned the step; the last checkpoint written before it is kept"
            : "interrupted");
        Environment.Exit(ExitCode);
    }

    /// <summary>Shows the cursor again (a progress bar hides it) on a terminal.</summary>
    public static void RestoreTerminal()
    {
        if (!Console.IsOutputRedirected)
            Console.Out.Write("\u001b[?25h");
        Console.Out.Flush();
    }
}
