using System;
using System.IO;
using System.Linq;
using VirtualNetworks.Backends;
using Xunit;

namespace VirtualNetworks.Linux.Tests
{
    /// <summary>
    /// The image search order (docs/install.md): $VIRTUALNETWORKS_IMAGE_PATH, the per-machine folder, &lt;state&gt;/images,
    /// next to the module (images/, then ../images); the first folder that has an image wins; ImageNotFound lists every
    /// folder searched and how to build or install an image. Temp folders stand in for each place.
    /// </summary>
    public sealed class ImageLocatorTests : IDisposable
    {
        private readonly string _root = Path.Combine(Path.GetTempPath(), "vnimg-" + Guid.NewGuid().ToString("N").Substring(0, 8));

        public ImageLocatorTests() => Directory.CreateDirectory(_root);

        public void Dispose()
        {
            try { Directory.Delete(_root, true); } catch (IOException) { }
        }

        private string P(string relative) => Path.Combine(_root, relative);

        private string Env1 => P("env1");
        private string Env2 => P("env2");
        private string Machine => P("machine/images");
        private string State => P("state");
        private string Module => P("out/VirtualNetworks");

        private ImageLocator Locator(string? env) => new ImageLocator(State, env, Machine, Module);

        /// <summary>A kernel+initrd image <paramref name="name"/> in <paramref name="dir"/>, its kernel holding <paramref name="mark"/>.</summary>
        private static string MakeImage(string dir, string name, string mark)
        {
            string folder = Path.Combine(dir, name);
            Directory.CreateDirectory(folder);
            File.WriteAllText(Path.Combine(folder, ImageLocator.KernelFile), mark);
            File.WriteAllText(Path.Combine(folder, ImageLocator.InitrdFile), mark);
            return folder;
        }

        [Fact]
        public void Search_path_is_env_then_machine_then_state_then_next_to_the_module()
        {
            var locator = Locator(Env1 + ":" + Env2);
            Assert.Equal(new[] { Env1, Env2, Machine, P("state/images"), P("out/VirtualNetworks/images"), P("out/images") }, locator.SearchPath);
        }

        [Fact]
        public void Without_the_variable_the_machine_folder_comes_first_even_with_a_state_directory_elsewhere()
        {
            var locator = Locator(null);
            Assert.Equal(new[] { Machine, P("state/images"), P("out/VirtualNetworks/images"), P("out/images") }, locator.SearchPath);
            Assert.Equal(locator.SearchPath, Locator("").SearchPath);
            Assert.Equal(locator.SearchPath, Locator("::").SearchPath);
        }

        [Fact]
        public void The_default_locator_searches_the_per_machine_folder_and_the_variable()
        {
            string? saved = Environment.GetEnvironmentVariable(ImageLocator.PathVariable);
            try
            {
                Environment.SetEnvironmentVariable(ImageLocator.PathVariable, Env1);
                var locator = new ImageLocator(State);
                Assert.Equal(Env1, locator.SearchPath[0]);
                Assert.Equal("/var/lib/virtualnetworks/images", locator.SearchPath[1]);
                Assert.Equal(P("state/images"), locator.SearchPath[2]);
                // Next to this test's copy of VirtualNetworks.Linux.dll.
                string moduleDir = Path.GetDirectoryName(typeof(ImageLocator).Assembly.Location)!;
                Assert.Equal(Path.Combine(moduleDir, "images"), locator.SearchPath[3]);
                Assert.Equal(Path.GetFullPath(Path.Combine(moduleDir, "..", "images")), locator.SearchPath[4]);
            }
            finally
            {
                Environment.SetEnvironmentVariable(ImageLocator.PathVariable, saved);
            }
        }

        [Fact]
        public void Duplicates_are_searched_once_and_paths_are_absolute()
        {
            // The state directory is the per-machine default: its images folder is the machine folder.
            var locator = new ImageLocator(P("machine"), Machine + ":" + Machine + "/", Machine, Module);
            Assert.Equal(new[] { Machine, P("out/VirtualNetworks/images"), P("out/images") }, locator.SearchPath);
            Assert.All(locator.SearchPath, d => Assert.True(Path.IsPathRooted(d), d));
        }

        [Fact]
        public void The_first_folder_that_has_the_image_wins()
        {
            var locator = Locator(Env1);
            Assert.Null(locator.Find("router"));

            MakeImage(P("out/images"), "router", "build");
            Assert.Equal(P("out/images/router"), locator.Find("router")!.Directory);
            MakeImage(P("out/VirtualNetworks/images"), "router", "installed-copy");
            Assert.Equal(P("out/VirtualNetworks/images/router"), locator.Find("router")!.Directory);
            MakeImage(P("state/images"), "router", "state");
            Assert.Equal(P("state/images/router"), locator.Find("router")!.Directory);
            MakeImage(Machine, "router", "machine");
            Assert.Equal(Path.Combine(Machine, "router"), locator.Find("router")!.Directory);
            MakeImage(Env1, "router", "env");
            var found = locator.Find("router")!;
            Assert.Equal(Path.Combine(Env1, "router"), found.Directory);
            Assert.Equal("env", File.ReadAllText(found.Kernel!));
            Assert.False(found.IsProjectImage);

            // A folder with only a kernel is no image: the next folder's is used.
            File.Delete(Path.Combine(Env1, "router", ImageLocator.InitrdFile));
            Assert.Equal(Path.Combine(Machine, "router"), locator.Find("router")!.Directory);
        }

        [Fact]
        public void A_qcow2_file_is_an_image_and_invalid_names_are_never_looked_up()
        {
            var locator = Locator(Env1);
            Directory.CreateDirectory(State + "/images");
            File.WriteAllText(P("state/images/disk1.qcow2"), "");
            var found = locator.Find("disk1")!;
            Assert.Equal(P("state/images/disk1.qcow2"), found.Disk);
            Assert.Null(found.Kernel);
            Assert.Null(locator.Find("../state/images/disk1"));
            Assert.Null(locator.Find(""));
        }

        [Fact]
        public void An_installed_symbolic_link_is_resolved_once()
        {
            // images/router/build.sh --install: router -> .router-<hash>, swapped atomically.
            string version = MakeImage(Machine, ".router-abc", "v1");
            File.CreateSymbolicLink(Path.Combine(Machine, "router"), ".router-abc");
            var found = Locator(null).Find("router")!;
            Assert.Equal(version, found.Directory);
            Assert.Equal(Path.Combine(version, ImageLocator.KernelFile), found.Kernel);
            Assert.Equal(Path.Combine(version, ImageLocator.InitrdFile), found.Initrd);
        }

        [Fact]
        public void List_gives_each_name_once_from_its_first_folder()
        {
            var locator = Locator(Env1);
            MakeImage(P("out/images"), "router", "build");
            MakeImage(Machine, "router", "machine");
            MakeImage(Machine, ".router-abc", "hidden");
            MakeImage(Machine, "Other", "machine");
            Directory.CreateDirectory(Path.Combine(Env1, "not-an-image"));
            File.WriteAllText(Path.Combine(Env1, "disk1.qcow2"), "");
            File.WriteAllText(Path.Combine(Env1, "README.md"), "");

            var list = locator.List();
            Assert.Equal(new[] { "disk1", "Other", "router" }, list.Select(p => p.Key));
            Assert.Equal(Path.Combine(Machine, "router"), list.Single(p => p.Key == "router").Value);
            Assert.Equal(Path.Combine(Env1, "disk1.qcow2"), list.Single(p => p.Key == "disk1").Value);
            Assert.Empty(new ImageLocator(P("nowhere"), null, P("nowhere/images"), null).List());
        }

        [Fact]
        public void ImageNotFound_lists_every_folder_searched_and_how_to_build_or_install()
        {
            var locator = Locator(Env1 + ":" + Env2);
            var ex = Assert.Throws<VirtualNetworksException>(() => locator.Require("router", "r1"));
            Assert.Equal(ErrorIds.ImageNotFound, ex.ErrorId);
            Assert.Equal(ErrorKind.ObjectNotFound, ex.Kind);
            Assert.Equal("router", ex.TargetName);
            Assert.Contains("'router' of router 'r1' was not found", ex.Message);
            int at = -1;
            foreach (var dir in locator.SearchPath)
            {
                int next = ex.Message.IndexOf(dir + " (", StringComparison.Ordinal);
                Assert.True(next > at, "'" + dir + "' is not listed in order in: " + ex.Message);
                at = next;
            }
            Assert.Contains(Env1 + " ($VIRTUALNETWORKS_IMAGE_PATH)", ex.Message);
            Assert.Contains(Machine + " (per machine)", ex.Message);
            Assert.Contains(P("state/images") + " (state directory)", ex.Message);
            Assert.Contains("vmlinuz and initramfs.cpio.gz", ex.Message);
            Assert.Contains("images/router/build.sh --install", ex.RecommendedAction);
            Assert.Contains("/var/lib/virtualnetworks/images/router", ex.RecommendedAction);
            Assert.Contains("VIRTUALNETWORKS_IMAGE_PATH", ex.RecommendedAction);

            var unset = Assert.Throws<VirtualNetworksException>(() => Locator(null).Require("router", "r1"));
            Assert.Contains("$VIRTUALNETWORKS_IMAGE_PATH is not set", unset.Message);
            var other = Locator(null).NotFound("mine", null);
            Assert.Contains("'mine.qcow2'", other.RecommendedAction);
        }

        [Fact]
        public void The_Linux_backend_is_an_image_catalog_over_its_state_directory()
        {
            var request = new BackendRequest();
            request.Options[LinuxBackend.StateDirectoryOption] = State;
            using var backend = new LinuxBackend(request);
            var catalog = Assert.IsAssignableFrom<IImageCatalog>(backend);
            Assert.Contains(P("state/images"), catalog.ImageSearchPath);
            Assert.Contains(ImageLocator.MachineDirectory, catalog.ImageSearchPath);
            MakeImage(P("state/images"), "vnimgtest-" + Path.GetFileName(_root), "state");
            Assert.Contains(catalog.ListImages(), p => p.Key == "vnimgtest-" + Path.GetFileName(_root) && p.Value == P("state/images/vnimgtest-" + Path.GetFileName(_root)));
            var report = catalog.DescribeMissingImage("nosuch");
            Assert.Contains(P("state/images") + " (state directory)", report.Searched);
            Assert.Contains("images/router/build.sh --install", ImageLocator.HowToInstall("router"));
            Assert.Contains("nosuch", report.RecommendedAction);
        }
    }
}
