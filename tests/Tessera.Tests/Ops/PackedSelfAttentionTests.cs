using Tessera.Autograd;
using Tessera.Engine;
using Tessera.Engine.Random;
using Xunit;
using F = Tessera.Autograd.Functional;

namespace Tessera.Tests.Ops;

/// <summary>
/// PackedSelfAttention (the CPU kernel reading q, k and v in place from a packed [B, N, 3E]
/// projection) gives the values and gradients of the composed path: chunk, split heads, SDPA,
/// merge heads.
/// </summary>
public class PackedSelfAttentionTests
{
    private static Tensor Composed(Tensor qkv, int heads, Tensor? mask, bool causal)
    {
        int batch = qkv.Size(0), length = qkv.Size(1), embed = qkv.Size(2) / 3, headDim = embed / heads;
        var parts = qkv.Chunk(3, -1);
        Tensor Split(Tensor x) => x.Reshape(batch, length, heads, headDim).Permute(0, 2, 1, 3);
        var attended = F.ScaledDotProductAttention(Split(parts[0]), Split(parts[1]), Split(parts[2]), mask, causal);
        return attended.Permute(0, 2, 1, 3).Reshape(batch, length, embed);
    }

    [Theory]
    [InlineData(2, 7, 3, 8, "none")]
    [InlineData(3, 130, 2, 16, "none")]      // more than one 128-row query block
    [InlineData(2, 9, 4, 4, "padding")]      // bool key-padding mask [B, 1, 1, N]
    [InlineData(2, 9, 4, 4, "additive")]     // float mask [N, N]
    [InlineData(1, 12, 2, 8, "causal")]
    public void MatchesTheComposedPathForwardAndBackward(int batch, int length, int heads, int headDim, string maskKind)
    {
        var generator = new Generator(11);
        int embed = heads * headDim;
        var data = Tensor.Randn([batch, length, 3 * embed], generator);
        var upstream = Tensor.Randn([batch, length, embed], generator);
        Tensor? mask = maskKind switch
        {
            "padding" => Tensor.FromArray(Enumerable.Range(0, batch * length).Select(i => i % length < length - 1 - i / length).ToArray(), batch, 1, 1, length),
            "additive" => Tensor.Randn([length, length], generator),
            _ => null,
        };
        bool causal = maskKind == "causal";

        var packedInput = data.Detach().RequireGrad();
        var packed = F.PackedSelfAttention(packedInput, heads, mask, causal);
        (packed * upstream).Sum().Backward();

        var composedInput = data.Detach().RequireGrad();
        var composed = Composed(composedInput, heads, mask, causal);
        (composed * upstream).Sum().Backward();

        Close(composed.ToArray(), packed.ToArray(), "output");
        Close(composedInput.Grad!.ToArray(), packedInput.Grad!.ToArray(), "gradient");
    }

    [Fact]
    public void BadInputSaysWhatWasExpected()
    {
        var x = Tensor.Zeros([2, 3, 10]);
        var shape = Assert.Throws<TensorShapeException>(() => F.PackedSelfAttention(x, 2));
        Assert.Contains("3·heads·headDim", shape.Message);
        Assert.Contains("[2, 3, 10]", shape.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => F.PackedSelfAttention(Tensor.Zeros([2, 3, 12]), 0));
    }

    private static void Close(float[] expected, float[] actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        double worst = 0;
        for (int i = 0; i < expected.Length; i++)
            worst = Math.Max(worst, Math.Abs(expected[i] - actual[i]));
        Assert.True(worst <= 1e-5, $"{what}: max abs diff {worst:E2} > 1e-5");
    }
}
