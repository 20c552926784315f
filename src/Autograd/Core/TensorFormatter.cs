using System.Globalization;
using System.Text;
using Tessera.Engine;

namespace Tessera.Autograd;

/// <summary>PyTorch-like printing: "tensor([[1.0000, 2.0000], ...], shape=[2, 2], dtype=float32)", eliding long dims.</summary>
internal static class TensorFormatter
{
    private const int EdgeItems = 3;

    public static string Format(Tensor tensor)
    {
        if (tensor.IsDisposed)
            return $"tensor(<disposed>, shape={Shapes.Format(tensor.Shape)})";
        var text = new StringBuilder("tensor(");
        var dense = tensor.Device.IsCpu ? tensor.Contiguous() : tensor.Detach().To(Device.Cpu);
        Append(text, dense, 0, 0);
        text.Append(", shape=").Append(Shapes.Format(tensor.Shape)).Append(", dtype=").Append(tensor.DType.Name());
        if (!tensor.Device.IsCpu) text.Append(", device='").Append(tensor.Device).Append('\'');
        if (tensor.GradFn is not null) text.Append(", grad_fn=").Append(tensor.GradFn.Name);
        else if (tensor.RequiresGrad) text.Append(", requires_grad=True");
        return text.Append(')').ToString();
    }

    private static void Append(StringBuilder text, Tensor dense, int dim, int offset)
    {
        if (dense.Rank == 0)
        {
            text.Append(Element(dense, 0));
            return;
        }
        int size = dense.Shape[dim];
        int stride = dense.Strides[dim];
        text.Append('[');
        for (int i = 0; i < size; i++)
        {
            if (size > 2 * EdgeItems && i == EdgeItems)
            {
                text.Append("..., ");
                i = size - EdgeItems - 1;
                continue;
            }
            if (dim == dense.Rank - 1) text.Append(Element(dense, offset + i * stride));
            else Append(text, dense, dim + 1, offset + i * stride);
            if (i < size - 1) text.Append(", ");
        }
        text.Append(']');
    }

    private static string Element(Tensor dense, int index) => dense.DType switch
    {
        DType.Float32 => dense.AsSpan<float>()[index].ToString("0.0000", CultureInfo.InvariantCulture),
        DType.Int32 => dense.AsSpan<int>()[index].ToString(CultureInfo.InvariantCulture),
        DType.Int64 => dense.AsSpan<long>()[index].ToString(CultureInfo.InvariantCulture),
        DType.Bool => dense.AsSpan<bool>()[index] ? "True" : "False",
        _ => "?",
    };
}
