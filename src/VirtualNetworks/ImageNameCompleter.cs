using System;
using System.Collections;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using System.Management.Automation.Language;
using VirtualNetworks.Backends;

namespace VirtualNetworks.Commands
{
    /// <summary>
    /// Tab completion of router image names: the images the backend for the -ComputerName already typed finds on its image
    /// search path (<see cref="IImageCatalog"/>; on Linux: $VIRTUALNETWORKS_IMAGE_PATH, /var/lib/virtualnetworks/images,
    /// the state directory's images/, next to the module). The tooltip is where the image is. A backend without a catalog
    /// (Hyper-V, where the image is a disk path) offers nothing. A completer must never throw: every failure gives no
    /// completions.
    /// </summary>
    public sealed class ImageNameCompleter : IArgumentCompleter
    {
        public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete,
            CommandAst commandAst, IDictionary fakeBoundParameters)
        {
            try
            {
                string word = wordToComplete ?? "";
                char quote = word.Length > 0 && (word[0] == '\'' || word[0] == '"') ? word[0] : '\0';
                string prefix = (quote == '\0' ? word : word.Substring(1).TrimEnd(quote)).TrimEnd('*');

                BackendBootstrap.EnsureRegistered();
                var request = new BackendRequest { ComputerName = Host(fakeBoundParameters), Kind = null };
                using (var backend = BackendRegistry.Resolve(request))
                {
                    if (!(backend is IImageCatalog catalog)) return Array.Empty<CompletionResult>();
                    return catalog.ListImages()
                        .Where(p => p.Key.StartsWith(prefix, StringComparison.OrdinalIgnoreCase))
                        .Select(p => new CompletionResult(quote == '\0' ? p.Key : quote + p.Key + quote, p.Key,
                            CompletionResultType.ParameterValue, p.Key + " (" + p.Value + ")"))
                        .ToList();
                }
            }
            catch (Exception)
            {
                return Array.Empty<CompletionResult>();
            }
        }

        private static IReadOnlyList<string> Host(IDictionary? bound)
        {
            if (bound == null || !bound.Contains("ComputerName")) return Array.Empty<string>();
            object? value = bound["ComputerName"];
            if (value is PSObject pso) value = pso.BaseObject;
            string? host = value?.ToString();
            return string.IsNullOrEmpty(host) ? Array.Empty<string>() : new[] { host! };
        }
    }
}
