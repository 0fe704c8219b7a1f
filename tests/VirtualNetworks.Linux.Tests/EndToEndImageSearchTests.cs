using System;
using System.IO;
using System.Linq;
using System.Management.Automation;
using Xunit;
using Xunit.Abstractions;

namespace VirtualNetworks.Linux.Tests
{
    /// <summary>
    /// The staged module on the real Linux backend: a missing image is ImageNotFound naming every folder searched, with the
    /// way to build or install it as the record's RecommendedAction (issue 12: an installed copy said only "was not found");
    /// -Image completes the images on the search path. Creates nothing (no router is made).
    /// </summary>
    [Collection(EndToEndCollection.Name)]
    public sealed class EndToEndImageSearchTests
    {
        private readonly ITestOutputHelper _output;

        public EndToEndImageSearchTests(ITestOutputHelper output) => _output = output;

        [EndToEndFact]
        public void Missing_image_lists_the_search_path_and_how_to_install_and_image_names_complete()
        {
            string root = EndToEndHost.NewStateRoot();
            try
            {
                using var ps = new EndToEndSession(root, _output);
                string image = "vnnoimage-" + EndToEndHost.Hex(6);
                var r = ps.Invoke("New-VirtualRouter -Name " + image + " -Image " + image + " -ErrorAction Continue");
                Assert.False(r.HadTerminatingError, r.Describe());
                var error = Assert.Single(r.Errors);
                Assert.Equal(ErrorIds.ImageNotFound + ",VirtualNetworks.Commands.NewVirtualRouterCommand", error.FullyQualifiedErrorId);
                Assert.Equal(ErrorCategory.ObjectNotFound, error.CategoryInfo.Category);
                string message = error.ErrorDetails?.Message ?? error.Exception.Message;
                _output.WriteLine(message);
                _output.WriteLine("Recommendation: " + error.ErrorDetails?.RecommendedAction);
                Assert.Contains(EndToEndHost.ImageRoot + " ($VIRTUALNETWORKS_IMAGE_PATH)", message);
                Assert.Contains("/var/lib/virtualnetworks/images (per machine)", message);
                Assert.Contains(Path.Combine(root, "images") + " (state directory)", message);
                // In this process the backend's assembly is the test's copy (already loaded): "next to the module" is beside it.
                string moduleDir = Path.GetDirectoryName(typeof(ImageLocator).Assembly.Location)!;
                Assert.Contains(Path.Combine(moduleDir, "images") + " (next to the module)", message);
                Assert.Contains("images/router/build.sh --install", error.ErrorDetails!.RecommendedAction);

                // Completion: the images of the search path (out/images has the project's 'router').
                var completion = ps.Invoke("$s = 'New-VirtualRouter -Name x -Image ro'; (TabExpansion2 -inputScript $s -cursorColumn $s.Length).CompletionMatches");
                Assert.False(completion.HadTerminatingError, completion.Describe());
                var texts = completion.Output.Select(o => EndToEndSession.Text(o, "CompletionText")).ToList();
                _output.WriteLine("completions: " + string.Join(", ", texts));
                Assert.Contains("router", texts);
                Assert.All(texts, t => Assert.StartsWith("ro", t, StringComparison.OrdinalIgnoreCase));
                var none = ps.Invoke("$s = 'New-VirtualRouter -Name x -Image zzqq'; (TabExpansion2 -inputScript $s -cursorColumn $s.Length).CompletionMatches");
                Assert.DoesNotContain(none.Output.Select(o => EndToEndSession.Text(o, "CompletionText")), t => t.StartsWith("zzqq", StringComparison.Ordinal));
                Assert.Empty(ps.Invoke("Get-VirtualRouter").Ok("Get-VirtualRouter").Output);
            }
            finally
            {
                try { Directory.Delete(root, true); } catch (IOException) { }
            }
        }
    }
}
