namespace Tessera.Engine;

public enum DeviceKind
{
    Cpu,
    /// <summary>A real NVIDIA GPU through the CUDA driver API.</summary>
    Cuda,
    /// <summary>The CUDA backend running on the PTX emulator.</summary>
    CudaEmulated,
}

/// <summary>
/// Where a tensor's memory lives: the CPU, a real NVIDIA GPU (<c>cuda</c>, <c>cuda:N</c>) or the
/// same CUDA backend on the PTX emulator (<c>cuda-emu</c>). GPU devices get a <c>GpuContext</c>.
/// </summary>
public sealed record Device(DeviceKind Kind, int Index = 0)
{
    public static readonly Device Cpu = new(DeviceKind.Cpu);

    public bool IsCpu => Kind == DeviceKind.Cpu;

    /// <summary>A CUDA device, real (cuda) or emulated (cuda-emu): tensors there run the GPU kernels.</summary>
    public bool IsGpu => Kind is DeviceKind.Cuda or DeviceKind.CudaEmulated;

    /// <summary>Parses "cpu", "cuda", "cuda:1" or "cuda-emu".</summary>
    public static Device Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        string name = text.Trim().ToLowerInvariant();
        int index = 0;
        int colon = name.IndexOf(':', StringComparison.Ordinal);
        if (colon >= 0)
        {
            if (!int.TryParse(name.AsSpan(colon + 1), out index) || index < 0)
                throw new ArgumentException($"device '{text}': expected a non-negative index after ':', found '{name[(colon + 1)..]}'", nameof(text));
            name = name[..colon];
        }
        return name switch
        {
            "cpu" => index == 0 ? Cpu : throw new ArgumentException($"device '{text}': the CPU device has no index; write 'cpu'", nameof(text)),
            "cuda" => new Device(DeviceKind.Cuda, index),
            "cuda-emu" => new Device(DeviceKind.CudaEmulated, index),
            _ => throw new ArgumentException($"device '{text}': expected one of 'cpu', 'cuda', 'cuda:N', 'cuda-emu'", nameof(text)),
        };
    }

    public override string ToString() => Kind switch
    {
        DeviceKind.Cpu => "cpu",
        DeviceKind.Cuda => Index == 0 ? "cuda" : $"cuda:{Index}",
        DeviceKind.CudaEmulated => Index == 0 ? "cuda-emu" : $"cuda-emu:{Index}",
        _ => Kind.ToString(),
    };
}
