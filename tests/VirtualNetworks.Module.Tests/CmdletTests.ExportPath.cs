using System.IO;
using System.Management.Automation;
using Xunit;

namespace VirtualNetworks.Module.Tests
{
    /// <summary>Export-VirtualNetwork refuses a file extension it cannot write, and a -Format that contradicts the extension, before anything is written.</summary>
    public sealed class ExportPathTests : ModuleTestBase
    {
        [Theory]
        [InlineData("x.png")]
        [InlineData("x.PDF")]
        [InlineData("x.txt")]
        public void AnExtensionItCannotWrite_IsRefused_BeforeAnythingIsObservedOrWritten(string name)
        {
            DeployGood();
            int resolved = ResolveCount;
            var file = Path.Combine(TempDirectory(), name);
            var r = Run("Export-VirtualNetwork -Path " + Q(file));
            AssertError(r, Fqid(ErrorIds.ExportExtensionNotSupported, "ExportVirtualNetworkCommand"), terminating: true);
            Assert.Equal(ErrorCategory.InvalidArgument, r.TerminatingError!.CategoryInfo.Category);
            Assert.Equal(file, r.TerminatingError.TargetObject);
            string message = r.TerminatingError.Exception.Message;
            Assert.Contains(file, message);
            foreach (var extension in new[] { ".json", ".dot", ".gv", ".mmd", ".md", ".svg" }) Assert.Contains(extension, message);
            Assert.False(File.Exists(file));
            Assert.Equal(resolved, ResolveCount);
        }

        [Fact]
        public void AFormatThatContradictsTheExtension_IsRefused()
        {
            DeployGood();
            var file = Path.Combine(TempDirectory(), "net.svg");
            var r = Run("Export-VirtualNetwork -Format Dot -Path " + Q(file));
            AssertError(r, Fqid(ErrorIds.ExportFormatMismatch, "ExportVirtualNetworkCommand"), terminating: true);
            Assert.Equal(ErrorCategory.InvalidArgument, r.TerminatingError!.CategoryInfo.Category);
            Assert.Contains("Svg", r.TerminatingError.Exception.Message);
            Assert.False(File.Exists(file));
        }

        [Fact]
        public void AnExplicitFormat_WritesAnyOtherExtension_AndNoExtensionIsJson()
        {
            DeployGood();
            var dir = TempDirectory();
            RunOk("Export-VirtualNetwork -Format Dot -Path " + Q(Path.Combine(dir, "net.txt")));
            Assert.StartsWith("graph", File.ReadAllText(Path.Combine(dir, "net.txt")).TrimStart());
            RunOk("Export-VirtualNetwork -Format Mermaid -Path " + Q(Path.Combine(dir, "net.md")));
            RunOk("Export-VirtualNetwork -Path " + Q(Path.Combine(dir, "topology")));
            Assert.StartsWith("{", File.ReadAllText(Path.Combine(dir, "topology")).TrimStart());
            RunOk("Export-VirtualNetwork -Path " + Q(Path.Combine(dir, "net.GV")));
            Assert.StartsWith("graph", File.ReadAllText(Path.Combine(dir, "net.GV")).TrimStart());
        }
    }
}
