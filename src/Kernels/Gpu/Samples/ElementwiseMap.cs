using System.Numerics;
using Tessera.Engine.Gpu;

namespace Tessera.Kernels.Gpu.Samples;

/// <summary>Generic elementwise kernels: one PTX kernel per (element type, functor) pair.</summary>
public static class ElementwiseMap
{
    [Kernel]
    public static void Map<T, TOp>(
        // [count]
        DeviceSpan<T> input,
        // [count]
        DeviceSpan<T> output)
        where T : unmanaged
        where TOp : IUnaryOp<T>
    {
        if (Elementwise.Index(output.Length, out int i))
            output[i] = TOp.Apply(input[i]);
    }

    [Kernel]
    public static void Zip<T, TOp>(
        // [count]
        DeviceSpan<T> left,
        DeviceSpan<T> right,
        // [count]
        DeviceSpan<T> output)
        where T : unmanaged
        where TOp : IBinaryOp<T>
    {
        if (Elementwise.Index(output.Length, out int i))
            output[i] = TOp.Apply(left[i], right[i]);
    }
}

/// <summary>x² for any number type (generic math: the operator is inlined per type).</summary>
public readonly struct Square<T> : IUnaryOp<T> where T : unmanaged, INumber<T>
{
    public static T Apply(T x) => x * x;
}

/// <summary>GELU, tanh approximation (as PyTorch's approximate='tanh').</summary>
public readonly struct GeluTanh : IUnaryOp<float>
{
    public static float Apply(float x) => 0.5f * x * (1f + MathF.Tanh(0.7978845608f * (x + 0.044715f * x * x * x)));
}

/// <summary>max(x, 0).</summary>
public readonly struct Relu : IUnaryOp<float>
{
    public static float Apply(float x) => MathF.Max(x, 0f);
}

/// <summary>x * y + 1 on any number type.</summary>
public readonly struct MultiplyAddOne<T> : IBinaryOp<T> where T : unmanaged, INumber<T>
{
    public static T Apply(T x, T y) => x * y + T.One;
}
