using System.Collections.Generic;

namespace VirtualNetworks.Commands
{
    /// <summary>
    /// The -Name values of every pipeline record of a Get-* cmdlet, gathered so that the cmdlet observes once at the end
    /// and answers all of them from that one observation ('r1','r2' | Get-VirtualRouter: one observation, sorted, no
    /// duplicates, one not-found error per literal name that matches nothing). A record without names (the cmdlet run
    /// without -Name and without pipeline input) selects everything.
    /// </summary>
    internal sealed class PipelineNames
    {
        private readonly List<string> _names = new List<string>();
        private bool _all;
        private bool _any;

        /// <summary>Records one pipeline record's names (null or empty = every object).</summary>
        public void Add(string[]? names)
        {
            _any = true;
            if (names == null || names.Length == 0) _all = true;
            else _names.AddRange(names);
        }

        /// <summary>True when no record was processed (an empty pipeline): there is nothing to get.</summary>
        public bool Nothing => !_any;

        /// <summary>The patterns to select by, or null for every object.</summary>
        public IReadOnlyList<string>? Patterns => _all ? null : _names;
    }
}
