#include <QTest>
// Placeholder: being written.
class tst_Models : public QObject
{
    Q_OBJECT
};
QTEST_GUILESS_MAIN(tst_Models)
#include "tst_models.moc"
