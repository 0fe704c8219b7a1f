using Xunit;

// Every test here changes the machine for real (namespaces, tagged interfaces, QEMU processes, state directories), and
// orphan clean-up in one state directory recognises the module's tagged devices and lab namespaces of another as
// leftovers (docs/ARCHITECTURE.md, known limitations). Collections therefore never run in parallel.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
