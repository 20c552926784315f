using Tessera.Engine.Cuda.Emulator;
using Xunit;

namespace Tessera.Tests.Fuzz;

/// <summary>
/// Regressions for what afl++ found in the emulator's PTX parser and decoder (docs/RELIABILITY.md):
/// every malformed line is a <see cref="PtxEmulatorException"/> naming the line, never an
/// IndexOutOfRange/Format/InvalidOperation exception from inside the parser, and an absurd
/// register declaration is refused instead of hanging while it allocates.
/// </summary>
public sealed class PtxParserFuzzFindingTests
{
    private static readonly string VectorAdd = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "fuzz-corpus", "ptx", "VectorAdd_Add.ptx"));

    private static PtxEmulatorException Reject(string ptx) =>
        Assert.Throws<PtxEmulatorException>(() =>
        {
            foreach (var kernel in PtxParser.Parse(ptx)) PtxDecoder.Decode(kernel);
        });

    [Fact]
    public void TheSeedStillParses()
    {
        var kernel = Assert.Single(PtxParser.Parse(VectorAdd));
        Assert.NotNull(PtxDecoder.Decode(kernel));
    }

    [Fact]
    public void AHugeRegisterDeclarationIsRefusedQuickly()
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var error = Reject(VectorAdd.Replace(".reg .b32 %r<9>;", ".reg .b32 %r<366666666>;", StringComparison.Ordinal));
        Assert.Contains("at most 65536 registers", error.Message, StringComparison.Ordinal);
        Assert.Contains("PTX line 19", error.Message, StringComparison.Ordinal);
        Assert.True(clock.Elapsed.TotalSeconds < 5, $"took {clock.Elapsed.TotalSeconds:F1} s");
    }

    [Theory]
    [InlineData(".reg .b32 %r<9>;", ".reg .b32 %r<9x>;", "PTX line 19")]              // FormatException in the count
    [InlineData(".reg .b32 %r<9>;", ".reg .b32 %r<>;", "PTX line 19")]
    [InlineData(".reg .b32 %r<9>;", ".reg .b32 %r<99999999999>;", "PTX line 19")]     // OverflowException
    [InlineData("\t.param .s32 VectorAdd_Add_param_1,", "\t.param .s32,", "PTX line 11")]
    public void AMalformedLineIsRejectedWithItsLineNumber(string line, string replacement, string where)
    {
        var error = Reject(VectorAdd.Replace(line, replacement, StringComparison.Ordinal));
        Assert.Contains(where, error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(".shared .align 0 .b8 smem0[32];", "a power of two, found 0")]      // DivideByZeroException
    [InlineData(".shared .align 12 .b8 smem0[32];", "a power of two, found 12")]
    [InlineData(".shared .align 4 .b8 smem0[-32];", "PTX line 22")]
    [InlineData(".local .align 4 .b8 a[2147483647];\n\t.local .align 4 .b8 b[2147483647];", "PTX line 23")] // offset overflow
    public void ABadSharedOrLocalDeclarationIsRejected(string declaration, string message)
    {
        var error = Reject(VectorAdd.Replace("\t.reg .f32 %f<4>;", "\t.reg .f32 %f<4>;\n\t" + declaration, StringComparison.Ordinal));
        Assert.Contains(message, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AParameterLoadWithoutOperandsIsRejectedByTheDecoder()
    {
        var error = Reject(VectorAdd.Replace("ld.param.s32 %r1, [VectorAdd_Add_param_1];", "ld.param.s32 %r1;", StringComparison.Ordinal));
        Assert.Contains("VectorAdd_Add", error.Message, StringComparison.Ordinal);
    }
}
