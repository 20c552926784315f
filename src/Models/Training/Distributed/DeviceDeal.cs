namespace Tessera.Models.Training.Distributed;

/// <summary>
/// Which virtual devices a rank owns: rank r of N gets the contiguous block
/// [⌊rV/N⌋, ⌊(r+1)V/N⌋) of the V global devices, so device d's task, data shard and random
/// streams (all keyed by the global index d) are the same whatever N is. Contiguous blocks keep
/// the reduction order (device 0, 1, ... V-1) a rank-order concatenation.
/// </summary>
public readonly record struct DeviceDeal(int First, int Count, int Total)
{
    /// <summary>The block of <paramref name="rank"/> among <paramref name="ranks"/> over <paramref name="devices"/> virtual devices.</summary>
    public static DeviceDeal For(int rank, int ranks, int devices)
    {
        if (ranks < 1) throw new ArgumentOutOfRangeException(nameof(ranks), ranks, $"device deal: expected at least one rank, found {ranks}");
        if (rank < 0 || rank >= ranks) throw new ArgumentOutOfRangeException(nameof(rank), rank, $"device deal: expected a rank in 0..{ranks - 1}, found {rank}");
        if (devices < 1) throw new ArgumentOutOfRangeException(nameof(devices), devices, $"device deal: expected at least one virtual device, found {devices}");
        if (ranks > devices)
            throw new ArgumentException($"--distributed: {ranks} ranks but the recipe has {devices} virtual device(s); every rank needs at least one device: start at most {devices} ranks (mpirun -np {devices}) or raise 'devices' (devices={ranks} trains a different run: the step averages over more devices)");
        int first = (int)((long)rank * devices / ranks);
        int end = (int)((long)(rank + 1) * devices / ranks);
        return new DeviceDeal(first, end - first, devices);
    }

    /// <summary>One past the last owned device.</summary>
    public int End => First + Count;

    /// <summary>True when global device <paramref name="device"/> runs on this rank.</summary>
    public bool Owns(int device) => device >= First && device < End;
}
