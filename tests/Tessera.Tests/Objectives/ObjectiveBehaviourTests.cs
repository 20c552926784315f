using Tessera.Autograd;
using Tessera.Engine.Random;
using Tessera.Models.Data.World;
using Tessera.Models.Nn;
using Tessera.Models.Nn.Text;
using Tessera.Models.Objectives;
using Xunit;

namespace Tessera.Tests.Objectives;

/// <summary>Behaviour of the shared objectives that goldens do not cover: EMA exactness, queues, masks, text tower.</summary>
public sealed class ObjectiveBehaviourTests
{
    [Fact]
    public void MomentumTeacherIsAnExactEmaAndGetsNoGradient()
    {
        var student = new Linear(3, 2, generator: new Generator(1));
        var teacher = new Linear(3, 2, generator: new Generator(2));
        var ema = new MomentumTeacher<Linear>(student, teacher);
        Assert.Equal(student.Weight.ToArray(), teacher.Weight.ToArray());
        Assert.All(teacher.Parameters(), p => Assert.False(p.RequiresGrad));
        var before = teacher.Weight.ToArray();
        using (GradMode.NoGrad()) student.Weight.AddInPlace(Tensor.Ones([2, 3]));
        ema.Update(student, 0.9f);
        var after = teacher.Weight.ToArray();
        var current = student.Weight.ToArray();
        for (int i = 0; i < after.Length; i++)
            Assert.Equal(before[i] * 0.9f + current[i] * (1f - 0.9f), after[i], 6);
        var loss = Functional.Sum(teacher.Forward(Tensor.Ones([1, 3])) * student.Forward(Tensor.Ones([1, 3])).Detach());
        Assert.False(loss.RequiresGrad);
        Assert.Throws<ArgumentException>(() => new MomentumTeacher<Linear>(student, new Linear(4, 2)));
    }

    [Fact]
    public void FeatureQueueIsFifoAndRefusesBatchesLongerThanItself()
    {
        var queue = new FeatureQueue(3, 2);
        queue.Enqueue(Tensor.FromArray([1f, 0f, 2f, 0f], 2, 2));
        queue.Enqueue(Tensor.FromArray([3f, 0f, 4f, 0f], 2, 2));
        Assert.Equal(3, queue.Count);
        Assert.Equal([4f, 0f, 2f, 0f, 3f, 0f], queue.Features().ToArray()); // row 0 overwritten by the 4th vector
        var error = Assert.Throws<ArgumentException>(() => queue.Enqueue(Tensor.Zeros([4, 2])));
        Assert.Contains("shorter than the batch", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void BlockwiseMaskingReachesTheRatioWithContiguousBlocks()
    {
        var generator = new Generator(3);
        double total = 0;
        for (int i = 0; i < 200; i++)
        {
            var mask = PatchMasking.Blockwise(8, 8, 0.4f, generator, minBlockPatches: 4);
            int count = mask.Count(m => m);
            Assert.InRange(count, 16, 26); // target round(0.4·64) = 26; BEiT's generator may stop a little short
            total += count;
            Assert.True(LargestComponent(mask, 8, 8) >= 4, "a block-wise mask is made of blocks of at least minBlockPatches");
        }
        Assert.InRange(total / 200 / 64, 0.36, 0.41);
        Assert.Throws<ArgumentOutOfRangeException>(() => PatchMasking.Blockwise(8, 8, 1f, generator));
        Assert.Throws<ArgumentOutOfRangeException>(() => PatchMasking.Blockwise(8, 8, 0f, generator));
    }

    [Fact]
    public void AlignedMaskingMasksWholeUnitsAtTheRatio()
    {
        var generator = new Generator(4);
        for (int i = 0; i < 50; i++)
        {
            var mask = PatchMasking.Aligned(8, 8, 0.5f, 2, generator);
            Assert.Equal(32, mask.Count(m => m)); // 8 of 16 units of 2×2 patches
            for (int y = 0; y < 8; y += 2)
                for (int x = 0; x < 8; x += 2)
                {
                    bool unit = mask[y * 8 + x];
                    Assert.True(mask[y * 8 + x + 1] == unit && mask[(y + 1) * 8 + x] == unit && mask[(y + 1) * 8 + x + 1] == unit);
                }
        }
        var error = Assert.Throws<ArgumentException>(() => PatchMasking.Aligned(8, 8, 0.5f, 3, generator));
        Assert.Contains("blockPatches", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TextTransformerPoolsAtTheEndTokenAndRejectsLongCaptions()
    {
        var tower = new TextTransformer(contextLength: 8, width: 16, depth: 1, heads: 2, causal: true, generator: new Generator(5));
        var tokens = new long[2 * 8];
        CaptionVocabulary.Encode("a red star", tokens.AsSpan(0, 8));
        CaptionVocabulary.Encode("a small blue ring", tokens.AsSpan(8, 8));
        var batch = Tensor.FromArray(tokens, 2, 8);
        Assert.Equal([4, 5], tower.EndPositions(batch));
        var pooled = tower.Forward(batch);
        Assert.Equal([2, 16], pooled.Shape.ToArray());
        // Causal: changing a token after the End token (padding) changes nothing at the End.
        var features = tower.ForwardTokens(batch).ToArray();
        var alone = tower.ForwardTokens(batch.Narrow(1, 0, 5).Contiguous()).ToArray();
        Assert.Equal(features[4 * 16], alone[4 * 16], 5);
        var tooLong = new long[8];
        CaptionVocabulary.Encode("a small striped red star left of a blue ring", tooLong);
        var error = Assert.Throws<ArgumentException>(() => tower.Forward(Tensor.FromArray(tooLong, 1, 8)));
        Assert.Contains("longer than the text tower's context", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void LanguageModelMaskingTouchesOnlyWordsAndKeepsTargets()
    {
        var tokens = new long[3 * 12];
        CaptionVocabulary.Encode("a small red star above a blue ring", tokens.AsSpan(0, 12));
        CaptionVocabulary.Encode("a circle", tokens.AsSpan(12, 12));
        CaptionVocabulary.Encode("a green hexagon in front of a red heart", tokens.AsSpan(24, 12));
        var batch = Tensor.FromArray(tokens, 3, 12);
        var (inputs, targets) = TokenMasking.ForLanguageModel(batch, 0.15f, new Generator(6));
        var input = inputs.ToArray<long>();
        var target = targets.ToArray<long>();
        for (int i = 0; i < tokens.Length; i++)
        {
            if (tokens[i] <= CaptionVocabulary.Unknown) Assert.Equal(tokens[i], input[i]);
            if (target[i] != TokenMasking.Ignore) Assert.Equal(tokens[i], target[i]);
            else Assert.Equal(tokens[i], input[i]);
        }
        for (int b = 0; b < 3; b++)
            Assert.Contains(target.Skip(b * 12).Take(12), t => t != TokenMasking.Ignore); // every caption has a masked word
        var dropped = TokenMasking.Drop(batch, 0.5f, new Generator(7)).ToArray<long>();
        for (int b = 0; b < 3; b++)
        {
            var row = dropped.Skip(b * 12).Take(12).ToArray();
            Assert.Equal(CaptionVocabulary.Begin, row[0]);
            Assert.Contains(CaptionVocabulary.End, row);
            Assert.True(row.Count(t => t > CaptionVocabulary.Unknown) >= 1);
        }
    }

    /// <summary>Patches in the largest 4-connected masked region.</summary>
    private static int LargestComponent(bool[] mask, int height, int width)
    {
        var seen = new bool[mask.Length];
        int best = 0;
        for (int start = 0; start < mask.Length; start++)
        {
            if (!mask[start] || seen[start]) continue;
            int size = 0;
            var stack = new Stack<int>([start]);
            seen[start] = true;
            while (stack.Count > 0)
            {
                int i = stack.Pop();
                size++;
                int y = i / width, x = i % width;
                foreach (var (ny, nx) in new[] { (y - 1, x), (y + 1, x), (y, x - 1), (y, x + 1) })
                {
                    if (ny < 0 || ny >= height || nx < 0 || nx >= width) continue;
                    int j = ny * width + nx;
                    if (mask[j] && !seen[j]) { seen[j] = true; stack.Push(j); }
                }
            }
            best = Math.Max(best, size);
        }
        return best;
    }
}
