using System;

namespace VirtualNetworks.Host
{
    internal static class Program
    {
        private static int Main(string[] args)
        {
            Options options;
            try
            {
                options = Options.Parse(args);
            }
            catch (UsageException e)
            {
                Console.Error.WriteLine("vnpwsh: " + e.Message);
                Console.Error.WriteLine(Options.Usage);
                return HostRunner.ExitUsage;
            }
            if (options.ShowHelp)
            {
                Console.Out.WriteLine(Options.Usage);
                return HostRunner.ExitOk;
            }

            try
            {
                using (var runner = new HostRunner(options))
                {
                    return runner.Run();
                }
            }
            catch (Exception e)
            {
                // Only failures of the host itself land here; script errors are reported by the runner.
                Console.Error.WriteLine("vnpwsh: internal error: " + e);
                return HostRunner.ExitError;
            }
        }
    }
}
