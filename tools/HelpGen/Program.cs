using System;
using System.IO;

namespace VirtualNetworks.HelpGen
{
    internal static class Program
    {
        private const string Usage =
@"Usage: HelpGen --assembly <VirtualNetworks.dll> --help-dir <docs/help> --out <dir>
       HelpGen --assembly <VirtualNetworks.dll> --help-dir <docs/help> --new-markdown

Reads every cmdlet class of the assembly and the markdown help in --help-dir (format:
docs/help-format.md) and writes <dir>/<assembly file>-Help.xml (MAML) and
<dir>/about_*.help.txt. Exit codes: 0 written; 1 gaps found (each listed, nothing written);
2 bad command line or the assembly could not be loaded.
--new-markdown writes an empty skeleton <Verb-Noun>.md for each cmdlet that has no help file
yet (and about_<assembly>.md), never overwriting; fill in the text, then run normally.";

        private static int Main(string[] args)
        {
            string? assembly = null, helpDir = null, outDir = null;
            bool skeletons = false;
            for (int i = 0; i < args.Length; i++)
            {
                string a = args[i];
                string? Next() => i + 1 < args.Length ? args[++i] : null;
                switch (a)
                {
                    case "--assembly": assembly = Next(); break;
                    case "--help-dir": helpDir = Next(); break;
                    case "--out": outDir = Next(); break;
                    case "--new-markdown": skeletons = true; break;
                    case "-h":
                    case "--help":
                        Console.WriteLine(Usage);
                        return 0;
                    default:
                        Console.Error.WriteLine($"HelpGen: unknown argument '{a}'.");
                        Console.Error.WriteLine(Usage);
                        return 2;
                }
            }
            if (skeletons && assembly != null && helpDir != null)
            {
                try
                {
                    var created = HelpGenerator.WriteSkeletons(HelpGenerator.LoadAssembly(assembly), Path.GetFileName(assembly), helpDir);
                    foreach (string f in created) Console.WriteLine("HelpGen: created " + f);
                    Console.WriteLine($"HelpGen: {created.Count} skeleton(s) written.");
                    return 0;
                }
                catch (Exception e) when (e is FileNotFoundException || e is FileLoadException || e is BadImageFormatException || e is InvalidOperationException)
                {
                    Console.Error.WriteLine("HelpGen: " + e.Message);
                    return 2;
                }
            }
            if (assembly == null || helpDir == null || outDir == null)
            {
                Console.Error.WriteLine("HelpGen: --assembly, --help-dir and --out are all required.");
                Console.Error.WriteLine(Usage);
                return 2;
            }

            HelpGenResult result;
            try
            {
                result = HelpGenerator.Run(assembly, helpDir, outDir);
            }
            catch (Exception e) when (e is FileNotFoundException || e is FileLoadException || e is BadImageFormatException || e is InvalidOperationException)
            {
                Console.Error.WriteLine("HelpGen: " + e.Message);
                return 2;
            }

            if (!result.Ok)
            {
                Console.Error.WriteLine($"HelpGen: {result.Gaps.Count} help gap(s) for {Path.GetFileName(assembly)} (nothing written):");
                foreach (string gap in result.Gaps)
                    Console.Error.WriteLine("  - " + gap);
                return 1;
            }
            Console.WriteLine($"HelpGen: {result.CommandCount} cmdlet(s) documented; wrote {string.Join(", ", result.Written.ConvertAll(Path.GetFileName))}.");
            return 0;
        }
    }
}
