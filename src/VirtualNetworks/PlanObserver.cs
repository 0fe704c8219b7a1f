using System;
using VirtualNetworks.Planning;

namespace VirtualNetworks.Commands
{
    /// <summary>Hands plan execution events (on the pipeline thread) to the cmdlet: ShouldProcess and progress.</summary>
    internal sealed class PlanObserver : IPlanObserver
    {
        private readonly Func<PlanStep, bool> _shouldRun;
        private readonly Action<PlanStep, int, int> _starting;

        public PlanObserver(Func<PlanStep, bool> shouldRun, Action<PlanStep, int, int> starting)
        {
            _shouldRun = shouldRun;
            _starting = starting;
        }

        public bool ShouldRun(PlanStep step) => _shouldRun(step);

        public void OnStepStarting(PlanStep step, int index, int count) => _starting(step, index, count);
    }
}
