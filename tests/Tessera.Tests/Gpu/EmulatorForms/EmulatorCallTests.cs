using Tessera.Engine.Cuda.Emulator;
using Xunit;

namespace Tessera.Tests.Gpu.EmulatorForms;

/// <summary>.func and call with .param passing, as ILGPU writes them for methods it does not inline.</summary>
public class EmulatorCallTests
{
    private const string Header = ".version 7.8\n.target sm_80\n.address_size 64\n";

    // triple(x) = x + x + x by a loop; small(x) returns early (guarded ret) with x when x < 10, else triple(x) (a nested call).
    private const string Functions = """
        .visible .func (.param .b64 retval_1) triple(
        	.param .b64 _x_2
        )
        ;
        .visible .func (.param .b64 retval_1) triple(
        	.param .b64 _x_2
        )
        {
        	.reg .pred	%p<2>;
        	.reg .b64	%rd<5>;
        	ld.param.b64	%rd1, [_x_2];
        	mov.b64	%rd2, 0;
        	mov.b64	%rd3, 0;
        L_1:
        	add.s64	%rd2, %rd2, %rd1;
        	add.s64	%rd3, %rd3, 1;
        	setp.lt.u64	%p1, %rd3, 3;
        	@%p1 bra	L_1;
        	st.param.b64	[retval_1], %rd2;
        	ret;
        }
        .visible .func (.param .b64 retval_3) small(
        	.param .b64 _x_4
        )
        {
        	.reg .pred	%p<2>;
        	.reg .b64	%rd<4>;
        	ld.param.b64	%rd1, [_x_4];
        	st.param.b64	[retval_3], %rd1;
        	setp.lt.u64	%p1, %rd1, 10;
        	@%p1 ret;
        	{
        	.param .b64 callParam0;
        	st.param.b64	[callParam0], %rd1;
        	.param .b64 callRetVal;
        	call.uni (callRetVal), triple, (
        		callParam0
        	);
        	ld.param.b64	%rd2, [callRetVal];
        	}
        	st.param.b64	[retval_3], %rd2;
        	ret;
        }

        """;

    [Fact]
    public void CallsPassParametersReturnValuesAndNest()
    {
        using var driver = new PtxEmulatorDriver();
        var input = new ulong[128];
        for (int l = 0; l < 32; l++)
            input[4 * l] = (ulong)(l * 3);
        // %d = small(a) · 1000 + triple(a): two call blocks reusing the argument names, as ILGPU writes them.
        string body = """
            {
            .param .b64 callParam0;
            st.param.b64	[callParam0], %a;
            .param .b64 callRetVal;
            call.uni (callRetVal), small, (
            	callParam0
            );
            ld.param.b64	%x6, [callRetVal];
            }
            {
            .param .b64 callParam0;
            st.param.b64	[callParam0], %a;
            .param .b64 callRetVal;
            call.uni (callRetVal), triple, (callParam0);
            ld.param.b64	%x7, [callRetVal];
            }
            mul.lo.u64 %x6, %x6, 1000;
            add.u64 %d, %x6, %x7;

            """;
        ulong[] output = RunWithFunctions(driver, body, input);
        for (int l = 0; l < 32; l++)
        {
            ulong a = (ulong)(l * 3);
            Assert.Equal((a < 10 ? a : 3 * a) * 1000 + 3 * a, output[l]);
        }
    }

    [Fact]
    public void RecursionAndUndefinedFunctionsAreRejected()
    {
        using var driver = new PtxEmulatorDriver();
        string recursive = Header + ".func (.param .b64 r) f(\n.param .b64 x\n)\n{\n.reg .b64 %rd<2>;\n{\n.param .b64 p;\n.param .b64 q;\ncall.uni (q), f, (p);\n}\nret;\n}\n" +
            ".visible .entry k(\n)\n{\n{\n.param .b64 p;\n.param .b64 q;\ncall.uni (q), f, (p);\n}\nret;\n}\n";
        var error = Assert.Throws<PtxEmulatorException>(() => driver.LoadModule(recursive));
        Assert.Contains("recursion", error.Message, StringComparison.Ordinal);
        Assert.Contains("kernel k", error.Message, StringComparison.Ordinal);
        var missing = Assert.Throws<PtxEmulatorException>(() => driver.LoadModule(Header + ".visible .entry k(\n)\n{\ncall.uni g, ();\nret;\n}\n"));
        Assert.Contains("'g' has no body", missing.Message, StringComparison.Ordinal);
    }

    private static ulong[] RunWithFunctions(PtxEmulatorDriver driver, string body, ulong[] input)
    {
        // RunLanes builds the kernel; the functions go in front of it through the declarations hook of the module text.
        return EmulatorFormTests.RunLanes(driver, body, input, modulePrefix: Functions);
    }
}
