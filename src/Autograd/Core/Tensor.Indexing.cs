namespace Tessera.Autograd;

/// <summary>Instance shortcuts for the indexing, joining and rearranging ops of <see cref="Functional"/>.</summary>
public sealed partial class Tensor
{
    public Tensor Gather(int dim, Tensor index) => Functional.Gather(this, dim, index);
    public Tensor ScatterAdd(int dim, Tensor index, Tensor src) => Functional.ScatterAdd(this, dim, index, src);
    public Tensor IndexSelect(int dim, Tensor index) => Functional.IndexSelect(this, dim, index);
    public Tensor[] Split(int splitSize, int dim = 0) => Functional.Split(this, splitSize, dim);
    public Tensor[] Split(int[] splitSizes, int dim = 0) => Functional.Split(this, splitSizes, dim);
    public Tensor[] Chunk(int chunks, int dim = 0) => Functional.Chunk(this, chunks, dim);
    public Tensor Roll(int[] shifts, int[]? dims = null) => Functional.Roll(this, shifts, dims);
    public Tensor Roll(int shift, int? dim = null) => Functional.Roll(this, shift, dim);
    public Tensor Flip(params int[] dims) => Functional.Flip(this, dims);
}
